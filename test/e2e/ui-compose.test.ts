/**
 * Compose hints in a real Thunderbird: a compose window from a LeapBird account shows
 * "encrypted" for a recipient with a key and "signed only" for one without, and "encrypted
 * only" keeps the second from being sent, with the reason.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComposeReport } from '../../shared/src/rpc.js';
import { startLeapScene, type LeapScene } from '../helpers/leap-scenario.js';
import { waitFor } from '../helpers/wait.js';

describe('compose hints in Thunderbird', () => {
  let scene: LeapScene;

  beforeAll(async () => {
    scene = await startLeapScene({ name: 'ui-compose', hardTimeoutMs: 150_000 });
  });

  afterAll(async () => {
    await scene?.stop();
  });

  /** The hint once the host has answered (it says "checking" until then). */
  const settled = (tabId: number) =>
    waitFor(
      'the compose hint to settle',
      async () => {
        const report = await scene.control.call('ui.composeState', { tabId });
        return report.state !== 'checking' && report.state !== 'no_recipients' && report;
      },
      30_000,
      300,
    );

  it('shows "encrypted" for a recipient whose key is published', async () => {
    const { tabId } = await scene.control.call('ui.composeOpen', {
      from: scene.alice,
      to: [`Bob <${scene.bob.address}>`],
      subject: 'Hello Bob',
    });
    const report: ComposeReport = await settled(tabId);
    expect(report.state).toBe('encrypted');
    expect(report.badge).toBe('enc');
    expect(report.title).toMatch(/encrypted and signed/i);
  });

  it('shows "signed only" for a recipient without a key, naming them', async () => {
    const { tabId } = await scene.control.call('ui.composeOpen', {
      from: scene.alice,
      to: ['nobody@alpha.test'],
      subject: 'Hello nobody',
    });
    const report = await settled(tabId);
    expect(report.state).toBe('signed');
    expect(report.title).toMatch(/^Signed only, not encrypted: no key for nobody@alpha\.test/);
  });

  it('does not send an "encrypted only" message to a recipient without a key, and says why', async () => {
    const { tabId } = await scene.control.call('ui.composeOpen', {
      from: scene.alice,
      to: ['nobody@alpha.test'],
      subject: 'Secret plans',
    });
    await settled(tabId);
    const on = await scene.control.call('ui.composeSetEncryptedOnly', { tabId, on: true });
    expect(on.encryptedOnly).toBe(true);
    await expect(scene.control.call('ui.composeSend', { tabId }, 60_000)).rejects.toThrow(
      // Thunderbird's words when onBeforeSend cancels: stopped in the add-on, before SMTP.
      /aborted by an onBeforeSend event/,
    );
    const after = await scene.control.call('ui.composeState', { tabId });
    expect(after.blocked).toMatch(
      /“encrypted only” is on, and there is no key for nobody@alpha\.test/,
    );
  });
});
