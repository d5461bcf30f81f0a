import { describe, expect, it } from 'vitest';
import {
  dateWords,
  groupFingerprint,
  sourceWords,
  validationWords,
} from '../../../extension/lib/keys-view.js';
import {
  credentialProblems,
  discoveredServersNote,
  failureSentence,
  normaliseDomain,
  passwordStrength,
} from '../../../extension/lib/setup-flow.js';
import {
  accountStateWords,
  progressSentence,
  progressText,
  toolbarBadge,
} from '../../../extension/lib/status.js';
import { initialState } from '../../../extension/lib/state.js';
import { RpcError } from '../../../shared/src/errors.js';
import type { HostStatus } from '../../../shared/src/rpc.js';

describe('the key page’s words', () => {
  it('groups a fingerprint in fours, upper-case', () => {
    expect(groupFingerprint('0123456789abcdef0123456789abcdef01234567')).toBe(
      '0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567',
    );
  });

  it('names every validation level and source in words', () => {
    expect(validationWords('Fingerprint')).toBe('verified by you');
    expect(validationWords('Provider_Trust')).toBe('found at their provider');
    expect(validationWords(null)).toBe('unknown');
    expect(validationWords('Something_New')).toBe('Something New');
    expect(sourceWords('nicknym')).toMatch(/LEAP provider/);
    expect(sourceWords('somewhere')).toBe('somewhere');
  });

  it('writes dates for people, "never" for no expiry', () => {
    expect(dateWords('2026-03-05T10:00:00Z', 'en-GB')).toBe('5 March 2026');
    expect(dateWords(null)).toBe('never');
    expect(dateWords('garbage')).toBe('unknown');
  });
});

describe('the setup form', () => {
  it('normalises what people type as a domain and refuses what is not one', () => {
    expect(normaliseDomain(' https://Mail.Example.org./ ')).toBe('mail.example.org');
    expect(normaliseDomain('alpha.test')).toBe('alpha.test');
    expect(normaliseDomain('not a domain')).toBeNull();
    expect(normaliseDomain('localhost')).toBeNull();
  });

  it('grades passwords from too short to strong', () => {
    expect(passwordStrength('abc').score).toBe(0);
    expect(passwordStrength('aaaaaaaaaaaa').score).toBe(1);
    expect(passwordStrength('password').score).toBe(1);
    expect(passwordStrength('correct horse battery staple').score).toBeGreaterThanOrEqual(3);
    expect(passwordStrength('').words).toBe('');
  });

  it('asks for the password twice on sign-up only, and says what is wrong', () => {
    const form = { username: 'alice', password: 'long enough pass', repeat: 'different one' };
    expect(credentialProblems('signUp', form)).toEqual(['The two passwords are not the same.']);
    expect(credentialProblems('logIn', form)).toEqual([]);
    expect(
      credentialProblems('logIn', { username: 'alice@x', password: 'p', repeat: '' })[0],
    ).toMatch(/no "@"/);
    expect(credentialProblems('signUp', { username: '', password: '', repeat: '' })).toEqual([
      'Enter a username.',
      'Enter a password.',
    ]);
  });

  it('names each server an autoconfig file chose, with port and security, before any password goes there', () => {
    const note = discoveredServersNote({
      imap: { host: 'imap.example.org', port: 993, security: 'tls' },
      smtp: { host: 'mail.example.org', port: 587, security: 'starttls' },
      source: 'https://example.org/.well-known/autoconfig/mail/config-v1.1.xml',
    });
    expect(note).toContain('incoming mail imap.example.org, port 993 (TLS)');
    expect(note).toContain('outgoing mail mail.example.org, port 587 (STARTTLS)');
    expect(note).toMatch(/^https:\/\/example\.org\//);
    expect(note).toMatch(/check that they belong to your provider/);
  });

  it('turns a missing host into the install command and passes the host’s sentences on', () => {
    expect(failureSentence(new RpcError('host_missing', 'x'))).toMatch(/npm run install-host/);
    expect(failureSentence({ code: 'username_taken', message: 'That username is taken.' })).toBe(
      'That username is taken.',
    );
  });
});

describe('the toolbar badge', () => {
  const status = (
    state: HostStatus['state'],
    lastError: HostStatus['lastError'] = null,
  ): HostStatus => ({
    state,
    hostVersion: '0.1.0',
    accounts: [{ email: 'alice@alpha.test', state }],
    lastError,
  });
  const connected = { ...initialState, phase: 'connected' as const };

  it('is empty and green when all is well', () => {
    expect(toolbarBadge({ ...connected, status: status('connected') })).toMatchObject({ text: '' });
  });

  it('shows sync progress as a percentage when the total is known', () => {
    const b = toolbarBadge({
      ...connected,
      status: status('syncing'),
      progress: { task: 'sync', done: 42, total: 100, message: 'Inbox' },
    });
    expect(b.text).toBe('42%');
    expect(b.title).toMatch(/Syncing/);
    expect(progressText({ task: 'sync', done: 3, total: null, message: '' })).toBeNull();
  });

  it('tells of search being prepared apart from the sync, and not once it is ready', () => {
    const index = (done: number) => ({
      task: 'index',
      done,
      total: 500,
      message: `Preparing search for alice@alpha.test: ${done} of 500 messages.`,
    });
    const indexing = { ...connected, status: status('syncing'), progress: index(128) };
    // The badge's percentage is the sync's; the index's figure is not passed off as it.
    expect(toolbarBadge(indexing).text).toBe('↻');
    expect(progressSentence(indexing)).toBe(
      'Preparing search for alice@alpha.test: 128 of 500 messages.',
    );
    // Still told once the sync is done, until the index is.
    expect(progressSentence({ ...indexing, status: status('connected') })).toMatch(/128 of 500/);
    expect(progressSentence({ ...indexing, progress: index(500) })).toBeNull();
    const syncing = { task: 'sync', done: 1, total: 2, message: 'Bringing…' };
    expect(
      progressSentence({ ...connected, status: status('connected'), progress: syncing }),
    ).toBeNull();
  });

  it('says offline and needs-login with the host’s reason', () => {
    expect(toolbarBadge({ ...connected, status: status('offline') }).text).toBe('off');
    const b = toolbarBadge({
      ...connected,
      status: status('needs_login', { code: 'needs_login', message: 'Your password changed.' }),
    });
    expect(b).toMatchObject({ text: '!', title: 'Your password changed.' });
    expect(accountStateWords('needs_login')).toBe('needs your password');
  });

  it('is a red "!" with the reason when the program is missing', () => {
    const b = toolbarBadge({ ...initialState, phase: 'host_missing', lastError: 'Install it.' });
    expect(b).toMatchObject({ text: '!', color: '#b91c1c', title: 'Install it.' });
  });

  it('invites to set up when there is no account yet', () => {
    expect(
      toolbarBadge({ ...connected, status: { ...status('connected'), accounts: [] } }).title,
    ).toMatch(/set up an account/);
  });
});
