import type { ComposeView } from '../../lib/messages.js';

/** The compose action's popup: the hint in words and the "encrypted only" switch. */
export function ComposePanel({
  view,
  setEncryptedOnly,
}: {
  view: ComposeView | null;
  setEncryptedOnly(on: boolean): void;
}) {
  if (!view) return <p class="muted">Checking…</p>;
  const { hint } = view;
  const cls = hint.state === 'encrypted' ? 'ok' : hint.state === 'signed' ? 'warn' : 'muted';
  const headline: Record<string, string> = {
    encrypted: 'Encrypted',
    signed: 'Signed only',
    checking: 'Checking keys…',
    no_recipients: 'No recipients yet',
    openpgp: 'Thunderbird OpenPGP',
    not_leap: 'Not a LeapBird account',
  };
  return (
    <div class="compose">
      <h1 class={cls}>{headline[hint.state] ?? hint.state}</h1>
      {view.blocked && (
        <p class="error" role="alert">
          {view.blocked}
        </p>
      )}
      {hint.missing.length === 0 ? (
        <p>{hint.title}</p>
      ) : (
        <p>It will be signed but not encrypted, because there is no key for:</p>
      )}
      {hint.missing.length > 0 && (
        <ul>
          {hint.missing.map((m) => (
            <li key={m.address}>
              {m.address}: {m.reason}
            </li>
          ))}
        </ul>
      )}
      {hint.state !== 'not_leap' && hint.state !== 'openpgp' && (
        <label class="switch">
          <input
            type="checkbox"
            checked={view.encryptedOnly}
            onChange={(e) => setEncryptedOnly((e.target as HTMLInputElement).checked)}
          />{' '}
          Encrypted only: do not send this message unless it can be encrypted
        </label>
      )}
    </div>
  );
}
