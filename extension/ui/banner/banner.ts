/**
 * Message display script: a banner above the message saying in words what the badge says.
 * Runs in the message pane, so it imports nothing (it is not a module) and builds its DOM
 * by hand; all decisions come from the background.
 *
 * The message's HTML and CSS are the attacker's (the message's scripts never run; its styles
 * do). So the banner is not part of the message's body: it is a child of the root element
 * placed before the body, its content lives in a closed shadow root the message's selectors
 * cannot reach, every element in it sets all of its own style (nothing is inherited from the
 * message), and the background has inserted lib/banner-guard's user stylesheet before it
 * answers, which keeps the message from hiding, restyling or covering the banner's element.
 * The fonts are generic families only: a message's @font-face cannot redefine those.
 */
import type { UiReply } from '../../lib/messages.js';
import type { DisplayView } from '../../lib/verification.js';

void (async () => {
  const reply = (await messenger.runtime.sendMessage({ type: 'display.get' })) as
    UiReply<DisplayView | null> | undefined;
  const view = reply?.ok ? reply.value : null;
  if (!view || !view.banner) return;
  const root = document.documentElement;
  // Not a module: the tag is spelled here and in lib/banner-guard.ts (BANNER_TAG).
  for (const old of root.querySelectorAll(':scope > leapbird-banner')) old.remove();
  const host = document.createElement('leapbird-banner');
  host.dataset.leapbird = view.state;
  const shadow = host.attachShadow({ mode: 'closed' });
  const alarm = view.alarm;
  const font = `${alarm ? 'bold 15px' : '13px'}/1.4 system-ui, sans-serif`;
  const ink = alarm ? '#ffffff' : '#1f2937';
  const style = document.createElement('style');
  // :host rules are the inner context: their !important beats the message's !important, a
  // second guard should the user stylesheet be missing. Text elements set their colour and
  // font themselves rather than inherit them: a ::first-line of the message's could
  // otherwise pass its own down to them.
  style.textContent = `
:host {
  all: initial !important; display: block !important; position: sticky !important;
  top: 0 !important; z-index: 2147483647 !important;
}
.box, .box * { all: initial; }
.box {
  display: block; box-sizing: border-box; width: 100%; font: ${font}; color: ${ink};
  padding: ${alarm ? '14px 16px' : '8px 12px'};
  background: ${alarm ? '#b91c1c' : view.protection === 'end-to-end' ? '#e7f3ec' : '#f3f4f6'};
  border-left: 6px solid ${alarm ? '#7f1d1d' : view.color};
  border-bottom: 1px solid ${alarm ? '#7f1d1d' : '#d1d5db'};
}
.box span, .box a { display: inline; font: ${font}; color: ${ink}; }
.box a { margin-left: 8px; text-decoration: underline; cursor: pointer; }
`;
  const box = document.createElement('div');
  box.className = 'box';
  box.setAttribute('role', alarm ? 'alert' : 'status');
  const text = document.createElement('span');
  text.textContent = view.banner;
  box.append(text);
  if (view.signerFingerprint) {
    const link = document.createElement('a');
    link.href = '#';
    link.textContent = 'Key details';
    link.addEventListener('click', (event) => {
      event.preventDefault();
      void messenger.runtime.sendMessage({
        type: 'open.keys',
        fingerprint: view.signerFingerprint,
      });
    });
    box.append(link);
  }
  shadow.append(style, box);
  root.insertBefore(host, document.body);
})();
