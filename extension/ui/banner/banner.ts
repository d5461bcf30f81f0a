/**
 * Message display script: a banner above the message saying in words what the badge says.
 * Runs in the message pane, so it imports nothing (it is not a module) and builds its DOM
 * by hand; all decisions come from the background.
 */
import type { UiReply } from '../../lib/messages.js';
import type { DisplayView } from '../../lib/verification.js';

void (async () => {
  const reply = (await messenger.runtime.sendMessage({ type: 'display.get' })) as
    UiReply<DisplayView | null> | undefined;
  const view = reply?.ok ? reply.value : null;
  if (!view || !view.banner) return;
  const banner = document.createElement('div');
  banner.setAttribute('role', view.alarm ? 'alert' : 'status');
  banner.dataset.leapbird = view.state;
  const alarm = view.alarm;
  Object.assign(banner.style, {
    font: `${alarm ? 'bold 15px' : '13px'} system-ui, sans-serif`,
    padding: alarm ? '14px 16px' : '8px 12px',
    margin: '0 0 12px',
    borderRadius: '4px',
    color: alarm ? '#ffffff' : '#1f2937',
    background: alarm ? '#b91c1c' : view.protection === 'end-to-end' ? '#e7f3ec' : '#f3f4f6',
    borderLeft: `6px solid ${alarm ? '#7f1d1d' : view.color}`,
  });
  const text = document.createElement('span');
  text.textContent = view.banner;
  banner.append(text);
  if (view.signerFingerprint) {
    const link = document.createElement('a');
    link.href = '#';
    link.textContent = ' Key details';
    link.style.color = 'inherit';
    link.style.marginLeft = '8px';
    link.addEventListener('click', (event) => {
      event.preventDefault();
      void messenger.runtime.sendMessage({
        type: 'open.keys',
        fingerprint: view.signerFingerprint,
      });
    });
    banner.append(link);
  }
  document.body.prepend(banner);
})();
