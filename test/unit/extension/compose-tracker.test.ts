/**
 * The compose tracker against a small WebExtension stub: it polls the compose window, asks
 * the host only when the recipients change, shows the hint on the compose action, and in
 * onBeforeSend stops an "encrypted only" message without keys or adds the host's header.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ComposeTracker, type ComposeDeps } from '../../../extension/background/compose.js';
import type { RecipientKeyInfo } from '../../../shared/src/rpc.js';

type Details = messenger.compose.ComposeDetails & {
  selectedEncryptionTechnology?: { name: string; encryptBody: boolean };
};

const tracker = (deps: ComposeDeps) => new ComposeTracker(deps);

const withKey = (address: string): RecipientKeyInfo => ({
  address,
  status: 'key',
  validation: 'Provider_Trust',
  fingerprint: 'AB'.repeat(20),
  reason: null,
});
const without = (address: string): RecipientKeyInfo => ({
  address,
  status: 'no_key',
  validation: null,
  fingerprint: null,
  reason: 'No key was found.',
});

describe('compose hints in the background', () => {
  let details: Details;
  const shown: Record<string, unknown> = {};
  const asked: string[][] = [];
  let deps: ComposeDeps;

  beforeEach(() => {
    vi.useFakeTimers();
    details = { identityId: 'id1', to: ['Bob <bob@alpha.test>'] };
    asked.length = 0;
    const record = (what: string) => (arg: Record<string, unknown>) => {
      shown[what] = arg.text ?? arg.title ?? arg.label ?? arg.color;
      return Promise.resolve();
    };
    vi.stubGlobal('messenger', {
      compose: { getComposeDetails: () => Promise.resolve(structuredClone(details)) },
      identities: { get: () => Promise.resolve({ email: 'Alice@alpha.test' }) },
      composeAction: {
        setBadgeText: record('badge'),
        setBadgeBackgroundColor: record('color'),
        setTitle: record('title'),
        setLabel: record('label'),
        openPopup: () => Promise.resolve(true),
      },
    });
    deps = {
      recipientKeys: (_email, recipients) => {
        asked.push(recipients);
        return Promise.resolve(
          recipients.map((r) => (r.startsWith('nobody') ? without(r) : withKey(r))),
        );
      },
      leapEmails: () => ['alice@alpha.test'],
      changed: () => {},
    };
  });

  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  it('asks the host once per recipient list, however often it polls', async () => {
    const t = tracker(deps);
    t.track(7);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(asked).toEqual([['bob@alpha.test']]);
    expect(shown).toMatchObject({ badge: 'enc', label: 'Encrypted' });
    details.to = ['Bob <bob@alpha.test>', 'nobody@alpha.test'];
    await vi.advanceTimersByTimeAsync(10_000);
    expect(asked).toEqual([['bob@alpha.test'], ['bob@alpha.test', 'nobody@alpha.test']]);
    expect(shown).toMatchObject({ badge: 'sig', label: 'Signed only' });
    t.forget(7);
    details.to = ['carol@alpha.test'];
    await vi.advanceTimersByTimeAsync(10_000);
    expect(asked).toHaveLength(2); // a closed window is not polled
  });

  it('stops an "encrypted only" message with a recipient without a key, with the reason', async () => {
    const t = tracker(deps);
    t.track(7);
    t.setEncryptedOnly(7, true);
    const result = await t.beforeSend(7, { ...details, to: ['nobody@alpha.test'] });
    expect(result).toEqual({ cancel: true });
    expect(shown.badge).toBe('!');
    expect(shown.title).toMatch(
      /^Not sent: “encrypted only” is on, and there is no key for nobody@alpha\.test/,
    );
    t.forget(7);
  });

  it('lets an "encrypted only" message with keys go, with the header the host enforces', async () => {
    const t = tracker(deps);
    t.track(7);
    t.setEncryptedOnly(7, true);
    const result = await t.beforeSend(7, {
      ...details,
      customHeaders: [{ name: 'X-A', value: '1' }],
    });
    expect(result).toEqual({
      details: {
        customHeaders: [
          { name: 'X-A', value: '1' },
          { name: 'X-Leap-Encrypted-Only', value: 'yes' },
        ],
      },
    });
    t.forget(7);
  });

  it('changes nothing when the switch is off, and stays out of Thunderbird’s own OpenPGP', async () => {
    const t = tracker(deps);
    t.track(7);
    expect(await t.beforeSend(7, { ...details, to: ['nobody@alpha.test'] })).toBeUndefined();
    details.selectedEncryptionTechnology = { name: 'OpenPGP', encryptBody: true };
    t.setEncryptedOnly(7, true);
    expect(await t.beforeSend(7, { ...details, to: ['nobody@alpha.test'] })).toMatchObject({
      details: {},
    });
    expect(shown.label).toBe('OpenPGP');
    t.forget(7);
  });

  it('stops an "encrypted only" message when the host cannot be asked', async () => {
    const t = tracker({ ...deps, recipientKeys: () => Promise.reject(new Error('gone')) });
    t.track(7);
    t.setEncryptedOnly(7, true);
    expect(await t.beforeSend(7, details)).toEqual({ cancel: true });
    expect(shown.title).toMatch(/could not be checked/);
    t.forget(7);
  });
});
