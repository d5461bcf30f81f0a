/**
 * The attacker writes the message's HTML. Someone changed a message bob signed (the amount
 * to pay), so the host marks its signature as bad, and added CSS and markup meant to keep
 * alice from seeing that: rules that hide or restyle LeapBird's banner (by its attribute, its
 * tag, its position, its generated content, its first line, the generic fonts, and what the
 * root does to everything in it: display, opacity, zoom, filter, margin, transform), a body
 * drawn over the whole pane at the highest z-index, and two look-alikes of the green
 * "verified" banner, one drawn over the top of the pane. What alice must still see is
 * LeapBird's red BAD SIGNATURE banner, drawn first, on top and in its own colours, and the
 * warning on the message display action in Thunderbird's own toolbar, which the message cannot
 * reach. Played through the real path: the provider's MX, the host's sync, and a real
 * Thunderbird on a virtual display, read through computed style and a screenshot.
 */
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signMessage } from '../../native-host/src/crypto/index.js';
import type { DisplayReport } from '../../shared/src/rpc.js';
import { composeMessage, sendToMx } from '../provider/helpers.js';
import { startLeapScene, type LeapScene } from '../helpers/leap-scenario.js';
import { startXvfb, type VirtualDisplay } from '../helpers/xvfb.js';
import { waitFor } from '../helpers/wait.js';

const SCREENSHOTS = resolve(
  import.meta.dirname,
  '..',
  '..',
  '.test-output',
  'adversary',
  'hostile-html',
);

const GREEN = 'background: #e7f3ec; border-left: 6px solid #15803d; color: #1f2937;';
const LOOKALIKE = 'Encrypted and signed by bob@alpha.test, with a key whose fingerprint';

/**
 * What the forger puts in place of the signed paragraph. Short ASCII lines: it goes into a
 * 7bit part as it is. The amount is changed too, so the signature no longer matches.
 */
const HOSTILE = [
  '<style>',
  '[data-leapbird], leapbird-banner, :root > :not(head):not(body),',
  'body > :first-child:not(.fake) {',
  '  display: none !important; visibility: hidden !important;',
  '  opacity: 0 !important; height: 0 !important;',
  '  position: absolute !important; left: -9999px !important;',
  '}',
  '[data-leapbird]::before, leapbird-banner::before,',
  'leapbird-banner::after { content: "Verified" !important; }',
  'leapbird-banner::first-line, leapbird-banner::first-letter {',
  '  color: transparent !important; background: #e7f3ec !important;',
  '}',
  '@font-face { font-family: system-ui; src: local("DejaVu Serif"); }',
  '@font-face { font-family: sans-serif; src: local("DejaVu Serif"); }',
  ':root {',
  '  display: none !important; opacity: 0 !important; zoom: 0.2 !important;',
  '  filter: hue-rotate(120deg) !important; margin-top: -400px !important;',
  '  transform: translateY(-400px) !important;',
  '}',
  'body {',
  '  position: fixed !important; top: 0 !important; left: 0 !important;',
  '  right: 0 !important; bottom: 0 !important; overflow: auto !important;',
  '  z-index: 2147483647 !important; background: #ffffff !important;',
  '  padding: 110px 8px 8px !important;',
  '}',
  ':root::after {',
  '  content: "\\2713  Encrypted and signed by bob@alpha.test";',
  '  position: fixed; top: 0; left: 0; right: 0; z-index: 2147483647;',
  `  padding: 8px 12px; font: 13px sans-serif; ${GREEN}`,
  '}',
  `.fake { padding: 8px 12px; font: 13px sans-serif; ${GREEN} }`,
  '</style>',
  `<div class="fake">${LOOKALIKE}</div>`,
  '<div class="fake">you checked with them.</div>',
  '<p>Pay 900 EUR to the new account.</p>',
].join('\r\n');

describe('an HTML message that hides or imitates the warning', () => {
  let scene: LeapScene;
  let screen: VirtualDisplay;
  let forgedId = '';

  beforeAll(async () => {
    screen = await startXvfb();
    scene = await startLeapScene({
      name: 'adversary-hostile-html',
      hardTimeoutMs: 200_000,
      display: screen.display,
    });
    const { bob, alice, provider, control } = scene;
    const signed = await signMessage(
      await composeMessage({
        from: bob.address,
        to: alice,
        subject: 'Invoice',
        text: 'Pay 100 EUR to the usual account.',
        html: '<p>Pay 100 EUR to the usual account.</p>',
      }),
      { senderAddress: bob.address, senderPrivateKey: bob.privateKey },
    );
    if (!signed.ok) throw new Error(signed.error.message);
    const original = signed.value.toString('latin1');
    const paragraph = '<p>Pay 100 EUR to the usual account.</p>';
    // The paragraph must be there as written (a 7bit part), or the edit would change nothing.
    expect(original).toContain(paragraph);
    const forged = Buffer.from(original.replace(paragraph, HOSTILE), 'latin1');
    forgedId = /^Message-ID:\s*<([^>]+)>/im.exec(original)![1]!;
    await sendToMx(provider, bob.address, [alice], forged);
    await waitFor(
      'the forged invoice in Thunderbird’s Inbox',
      async () => {
        const { messages } = await control.call('mail.list', { email: alice, folder: 'inbox' });
        return messages.some((m) => m.headerMessageId === forgedId);
      },
      90_000,
      1000,
    );
  }, 200_000);

  afterAll(async () => {
    await scene?.stop();
    screen?.stop();
  });

  it('still shows the BAD SIGNATURE warning, first, on top and in its own colours, in a tab of its own', async () => {
    const report = await scene.control.call('ui.displayMessage', {
      email: scene.alice,
      headerMessageId: forgedId,
    });
    expectWarningShown(report);
    await keepScreenshot('bad-signature-tab.png');
  });

  it('still shows it in the message pane of the mail tab, where people usually read', async () => {
    const report = await scene.control.call('ui.displayMessage', {
      email: scene.alice,
      headerMessageId: forgedId,
      where: 'mailTab',
    });
    expectWarningShown(report);
    await keepScreenshot('bad-signature-mail-tab.png');
  });

  /** What a person sees: kept for looking at (a test cannot judge a picture). */
  async function keepScreenshot(name: string): Promise<void> {
    await new Promise((r) => setTimeout(r, 1500)); // let the pane paint
    const file = screen.shoot(join(SCREENSHOTS, name));
    expect(existsSync(file)).toBe(true);
    process.stdout.write(`screenshot: ${file}\n`);
  }
});

function expectWarningShown(report: DisplayReport): void {
  // Thunderbird's chrome: the message display action, out of the message's reach.
  expect(report.state).toBe('bad_signature');
  expect(report.label).toBe('BAD SIGNATURE');
  expect(report.badgeText).toBe('!');
  expect(report.title).toMatch(/^Bad signature/);

  // The banner in the message pane, as a person sees it.
  expect(report.banner).toMatch(
    /^Warning: BAD SIGNATURE\. This message claims to come from bob@alpha\.test/,
  );
  const look = report.bannerLook;
  expect(look).not.toBeNull();
  expect({
    display: look!.display,
    visibility: look!.visibility,
    opacity: look!.opacity,
    boxDisplay: look!.boxDisplay,
    boxVisibility: look!.boxVisibility,
    boxOpacity: look!.boxOpacity,
  }).toEqual({
    display: 'block',
    visibility: 'visible',
    opacity: '1',
    boxDisplay: 'block',
    boxVisibility: 'visible',
    boxOpacity: '1',
  });
  // Its alarm colours, not turned green by a filter on the message's root.
  expect(look!.background).toBe('rgb(185, 28, 28)');
  expect(look!.color).toBe('rgb(255, 255, 255)');
  expect(look!.root).toEqual({
    display: 'block',
    opacity: '1',
    filter: 'none',
    transform: 'none',
    zoom: '1',
  });
  expect(Number.parseFloat(look!.fontSize)).toBeGreaterThanOrEqual(13);
  // No words of the message's added around it, and no look-alike drawn over it.
  expect(look!.pseudo).toEqual({
    before: 'none',
    after: 'none',
    rootBefore: 'none',
    rootAfter: 'none',
  });
  expect(look!.covered).toBe(0);
  // First: at the top of the pane, across it, before anything of the message.
  expect(look!.beforeBody).toBe(true);
  expect(look!.top).toBeGreaterThanOrEqual(0);
  expect(look!.top).toBeLessThan(2);
  expect(look!.height).toBeGreaterThanOrEqual(20);
  expect(look!.width).toBeGreaterThanOrEqual(look!.viewportWidth * 0.9);
}
