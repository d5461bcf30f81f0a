import type { AddonState } from '../../lib/state.js';
import { HOST_INSTALL_COMMAND, phaseTitle } from '../../lib/words.js';

/** The toolbar popup: is the host running, which accounts, what went wrong. */
export function Popup({ state }: { state: AddonState }) {
  const healthy = state.phase === 'connected';
  return (
    <div>
      <h1 class={healthy ? 'ok' : state.phase === 'connecting' ? 'muted' : 'bad'}>
        {phaseTitle(state.phase)}
      </h1>
      {state.hostVersion && <p class="muted">Program version {state.hostVersion}</p>}
      {state.status && state.status.accounts.length > 0 && (
        <ul>
          {state.status.accounts.map((account) => (
            <li key={account.email}>
              {account.email}: {account.state}
            </li>
          ))}
        </ul>
      )}
      {state.lastError && <p class="bad">{state.lastError}</p>}
      {state.phase === 'host_missing' && (
        <p>
          In the folder where you unpacked LeapBird, run <code>{HOST_INSTALL_COMMAND}</code>, then
          restart Thunderbird.
        </p>
      )}
    </div>
  );
}
