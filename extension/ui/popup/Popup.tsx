import type { AddonState } from '../../lib/state.js';
import { accountStateWords, progressText, toolbarBadge } from '../../lib/status.js';
import { HOST_INSTALL_COMMAND } from '../../lib/words.js';

/** The toolbar popup: is the host running, which accounts and how they sync, what went wrong. */
export function Popup({
  state,
  openKeys,
  openSetup,
}: {
  state: AddonState;
  openKeys(): void;
  openSetup(): void;
}) {
  const badge = toolbarBadge(state);
  const accounts = state.status?.accounts ?? [];
  const percent = progressText(state.progress);
  const hostError = state.status?.lastError?.message ?? null;
  const cls =
    state.phase !== 'connected' && state.phase !== 'connecting'
      ? 'bad'
      : badge.text === '' || badge.text === 'new'
        ? 'ok'
        : 'muted';
  return (
    <div>
      <h1 class={cls}>{badge.title}</h1>
      {accounts.length > 0 && (
        <ul class="accounts">
          {accounts.map((account) => (
            <li key={account.email}>
              <strong>{account.email}</strong>: {accountStateWords(account.state)}
              {account.state === 'syncing' && percent ? ` (${percent})` : ''}
            </li>
          ))}
        </ul>
      )}
      {state.progress && state.status?.state === 'syncing' && (
        <p class="muted">{state.progress.message}</p>
      )}
      {(state.lastError || hostError) && (
        <p class="bad">Last problem: {state.lastError ?? hostError}</p>
      )}
      {state.phase === 'host_missing' && (
        <p>
          In the folder where you unpacked LeapBird, run <code>{HOST_INSTALL_COMMAND}</code>, then
          restart Thunderbird.
        </p>
      )}
      {state.phase === 'connected' && (
        <p class="actions">
          {accounts.length === 0 ? (
            <button type="button" onClick={openSetup}>
              Set up an account
            </button>
          ) : (
            <button type="button" onClick={openKeys}>
              Keys
            </button>
          )}
        </p>
      )}
      {state.hostVersion && <p class="muted small">Program version {state.hostVersion}</p>}
    </div>
  );
}
