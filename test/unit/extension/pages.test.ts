/**
 * The add-on's Preact pages rendered to HTML: what a person reads on the key page, the
 * compose popup and the toolbar popup for the states that matter.
 */
import { h } from 'preact';
import { renderToString } from 'preact-render-to-string';
import { describe, expect, it } from 'vitest';
import { composeHint } from '../../../extension/lib/compose-hint.js';
import { installGuide } from '../../../extension/lib/install-guide.js';
import { initialState, type AddonState } from '../../../extension/lib/state.js';
import { ComposePanel } from '../../../extension/ui/compose/ComposePanel.js';
import { Keys } from '../../../extension/ui/keys/Keys.js';
import { Popup } from '../../../extension/ui/popup/Popup.js';
import { LegacyForm, Setup } from '../../../extension/ui/setup/Setup.js';

const text = (html: string) =>
  html
    .replace(/<br\s*\/?>/g, ' ')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/\s+/g, ' ');

describe('the key page', () => {
  const own = {
    address: 'alice@alpha.test',
    fingerprint: '0123456789abcdef0123456789abcdef01234567',
    created: '2026-01-02T00:00:00Z',
    expires: '2027-01-02T00:00:00Z',
    renews: '2026-11-03T00:00:00Z',
    published: false,
  };
  const bob = {
    address: 'bob@alpha.test',
    fingerprint: 'F'.repeat(40),
    validation: 'Provider_Trust' as const,
    source: 'nicknym',
    expires: null,
  };
  const carol = {
    ...bob,
    address: 'carol@beta.test',
    fingerprint: 'A'.repeat(40),
    validation: 'Fingerprint' as const,
  };

  it('shows the own key’s fingerprint in groups, its dates and that it is not published yet', () => {
    const page = text(
      renderToString(
        h(Keys, {
          own,
          contacts: [],
          highlight: null,
          verify: async () => {},
          locale: 'en-GB',
        }),
      ),
    );
    expect(page).toContain('0123 4567 89AB CDEF 0123 4567 89AB CDEF 0123 4567');
    expect(page).toContain('2 January 2027');
    expect(page).toContain('on 3 November 2026');
    expect(page).toContain('not yet');
    expect(page).toContain('No keys yet');
  });

  it('offers "I checked this fingerprint" for unverified contacts only, with trust and source in words', () => {
    const html = renderToString(
      h(Keys, {
        own,
        contacts: [bob, carol],
        highlight: 'A'.repeat(40),
        verify: async () => {},
      }),
    );
    const rows = html.split('<tr').slice(2); // after the header row
    expect(text(rows[0]!)).toContain('found at their provider');
    expect(text(rows[0]!)).toContain('from their LEAP provider (Nicknym)');
    expect(text(rows[0]!)).toContain('I checked this fingerprint with them');
    expect(text(rows[1]!)).toContain('✓ verified');
    expect(text(rows[1]!)).not.toContain('I checked');
    expect(rows[1]).toContain('class="highlight"');
  });

  it('lets the user choose whose keys to see when there is more than one account', () => {
    const props = { own, contacts: [], highlight: null, verify: async () => {} };
    const one = renderToString(h(Keys, { ...props, accounts: ['alice@alpha.test'] }));
    expect(one).not.toContain('<select');
    const two = renderToString(
      h(Keys, {
        ...props,
        accounts: ['alice@alpha.test', 'alice@work.test'],
        account: 'alice@work.test',
      }),
    );
    expect(text(two)).toContain('Keys of');
    expect(two).toContain('<option value="alice@alpha.test">alice@alpha.test</option>');
    expect(two).toMatch(/<option[^>]*selected[^>]*>alice@work.test<\/option>/);
  });
});

describe('the compose popup', () => {
  const signed = composeHint({
    leapIdentity: true,
    builtInOpenPgp: false,
    recipients: ['nobody@beta.test'],
    keys: [
      {
        address: 'nobody@beta.test',
        status: 'no_key',
        validation: null,
        fingerprint: null,
        reason: 'No key was found.',
      },
    ],
  });

  it('lists who has no key and shows the "encrypted only" switch', () => {
    const page = text(
      renderToString(
        h(ComposePanel, {
          view: { hint: signed, encryptedOnly: true, blocked: null },
          setEncryptedOnly: () => {},
        }),
      ),
    );
    expect(page).toContain('Signed only');
    expect(page).toContain('nobody@beta.test: no key was found');
    expect(page).toContain('Encrypted only');
  });

  it('puts the reason a send was stopped first, as an alert', () => {
    const html = renderToString(
      h(ComposePanel, {
        view: {
          hint: signed,
          encryptedOnly: true,
          blocked: 'Not sent: no key for nobody@beta.test.',
        },
        setEncryptedOnly: () => {},
      }),
    );
    expect(html).toMatch(/role="alert"[^>]*>Not sent: no key for nobody@beta.test\./);
  });

  it('has no switch when Thunderbird’s own OpenPGP handles the message', () => {
    const hint = composeHint({
      leapIdentity: true,
      builtInOpenPgp: true,
      recipients: ['a@b.test'],
      keys: null,
    });
    const page = text(
      renderToString(
        h(ComposePanel, {
          view: { hint, encryptedOnly: false, blocked: null },
          setEncryptedOnly: () => {},
        }),
      ),
    );
    expect(page).toContain('Thunderbird OpenPGP');
    expect(page).not.toContain('Encrypted only');
  });
});

describe('the toolbar popup', () => {
  const popup = (state: Partial<AddonState>) =>
    text(
      renderToString(
        h(Popup, {
          state: { ...initialState, ...state },
          openKeys: () => {},
          openSetup: () => {},
          logOut: () => {},
        }),
      ),
    );

  it('names the file to download for this system when the program is missing, not a command', () => {
    const page = popup({
      phase: 'host_missing',
      lastError: 'The LeapBird program is not installed on this computer.',
      platform: { os: 'linux', arch: 'x86-64' },
    });
    expect(page).toContain('The LeapBird program is not installed on this computer.');
    expect(page).toContain('Install the LeapBird program');
    expect(page).toContain(
      'For Debian, Ubuntu, Linux Mint and other Debian-based systems: leapbird-host_0.1.0_amd64.deb',
    );
    expect(page).toContain(
      'For any other Linux (no administrator rights needed): leapbird-host-0.1.0-linux-x64.tar.gz',
    );
    expect(page).toContain('Show me how, step by step');
    expect(page).not.toContain('npm');
  });

  it('says which side to update when the program speaks another protocol version', () => {
    const older = popup({ phase: 'host_outdated', hostProtocol: 0, hostVersion: null });
    expect(older).toContain('Update the LeapBird program');
    expect(older).toContain(
      'The LeapBird program on this computer is too old for this add-on (version 0.1.0)',
    );
    expect(older).toContain('leapbird-host-0.1.0-linux-x64.tar.gz');
    const newer = popup({ phase: 'host_outdated', hostProtocol: 99, hostVersion: '9.0.0' });
    expect(newer).toContain('Update the LeapBird add-on');
    expect(newer).toContain('(version 9.0.0) is newer than this add-on');
  });

  it('shows each account with its sync state and progress', () => {
    const page = text(
      renderToString(
        h(Popup, {
          state: {
            ...initialState,
            phase: 'connected',
            hostVersion: '0.1.0',
            status: {
              state: 'syncing',
              hostVersion: '0.1.0',
              accounts: [{ email: 'alice@alpha.test', state: 'syncing' }],
              lastError: null,
            },
            progress: { task: 'sync', done: 1, total: 4, message: 'Fetching Inbox' },
          },
          openKeys: () => {},
          openSetup: () => {},
          logOut: () => {},
        }),
      ),
    );
    expect(page).toContain('alice@alpha.test: syncing… (25%)');
    expect(page).toContain('Fetching Inbox');
    expect(page).toContain('Log out…');
  });
});

describe('the setup tab', () => {
  const actions = {
    describeProvider: () => Promise.reject(new Error('not called')),
    run: () => Promise.reject(new Error('not called')),
    discover: () => Promise.reject(new Error('not called')),
    runLegacy: () => Promise.reject(new Error('not called')),
    openKeys: () => {},
  };

  it('starts at the provider step, with the other-provider path offered', () => {
    const html = renderToString(h(Setup, { actions, progress: null, hostProblem: null }));
    const page = text(html);
    expect(html).toContain('<li class="current">Provider</li>');
    expect(page).toContain('Your provider’s domain');
    expect(page).toContain('Use another provider');
  });

  it('offers an ordinary IMAP/SMTP account with editable servers, saying what it protects less', () => {
    const html = renderToString(h(LegacyForm, { actions, onDone: () => {} }));
    const page = text(html);
    expect(page).toContain('the provider sees each message before that');
    for (const label of [
      'Incoming (IMAP) host',
      'Incoming (IMAP) port',
      'Outgoing (SMTP) security',
    ]) {
      expect(html).toContain(`aria-label="${label}"`);
    }
    expect(html).toMatch(/<button type="submit" disabled/);
  });

  it('says what to download and how to install it before anything else, the command last', () => {
    const html = renderToString(
      h(Setup, {
        actions,
        progress: null,
        hostProblem: null,
        hostGuide: installGuide({ kind: 'missing' }, { os: 'linux', arch: 'x86-64' }),
      }),
    );
    const page = text(html);
    expect(page).toContain('Install the LeapBird program');
    expect(page).toContain('For Linux (64-bit PC), download one of these:');
    expect(page).toContain('sudo apt install ./leapbird-host_0.1.0_amd64.deb');
    expect(page).toContain('In the unpacked folder, run install.sh');
    expect(page).toContain('gpg --verify SHA256SUMS.asc SHA256SUMS');
    expect(page).toContain('Then restart Thunderbird');
    expect(html.indexOf('leapbird-host_0.1.0_amd64.deb')).toBeLessThan(html.indexOf('<form'));
    // The developer's command is there, after everything a person needs.
    expect(page.indexOf('npm run install-host')).toBeGreaterThan(page.indexOf('install.sh'));
    expect(page).toMatch(
      /Developers running LeapBird from its source folder: npm ci, then npm run install-host/,
    );
  });

  it('on a system without a package says so in words, and keeps the source path', () => {
    const page = text(
      renderToString(
        h(Setup, {
          actions,
          progress: null,
          hostProblem: null,
          hostGuide: installGuide({ kind: 'missing' }, { os: 'mac', arch: 'aarch64' }),
        }),
      ),
    );
    expect(page).toContain('There is no ready-made LeapBird program for macOS (64-bit ARM) yet');
    expect(page).not.toContain('.deb');
    expect(page).toContain('npm run install-host');
  });
});
