import { useState } from 'preact/hooks';
import type { AddonState } from '../../lib/state.js';
import {
  accountStateWords,
  progressSentence,
  progressText,
  toolbarBadge,
} from '../../lib/status.js';
import { hostProblemOf, installGuide } from '../../lib/install-guide.js';
import { HostGuide } from '../common/HostGuide.js';

/** The toolbar popup: is the host running, which accounts and how they sync, what went wrong. */
export function Popup({
  state,
  openKeys,
  openSetup,
  logOut,
}: {
  state: AddonState;
  openKeys(): void;
  openSetup(): void;
  /** Log out; optionally remove the account from Thunderbird too. */
  logOut(email: string, removeAccount: boolean): void;
}) {
  const [leaving, setLeaving] = useState<string | null>(null);
  const badge = toolbarBadge(state);
  const accounts = state.status?.accounts ?? [];
  const percent = progressText(state.progress);
  const working = progressSentence(state);
  const hostError = state.status?.lastError?.message ?? null;
  const problem = hostProblemOf(state);
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
              {account.state === 'syncing' && percent ? ` (${percent})` : ''}{' '}
              {leaving === account.email ? (
                <span class="confirm">
                  <br />
                  Log out of {account.email}? Its mail stays encrypted on this computer.
                  <br />
                  <button type="button" onClick={() => logOut(account.email, true)}>
                    Log out and remove the account from Thunderbird
                  </button>{' '}
                  <button type="button" class="link" onClick={() => logOut(account.email, false)}>
                    Log out, keep it in Thunderbird
                  </button>{' '}
                  <button type="button" class="link" onClick={() => setLeaving(null)}>
                    Cancel
                  </button>
                </span>
              ) : (
                <button type="button" class="link" onClick={() => setLeaving(account.email)}>
                  Log out…
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {working && <p class="muted">{working}</p>}
      {(state.lastError || hostError) && !problem && (
        <p class="bad">Last problem: {state.lastError ?? hostError}</p>
      )}
      {problem && (
        <>
          <HostGuide guide={installGuide(problem, state.platform)} short />
          <p class="actions">
            <button type="button" onClick={openSetup}>
              Show me how, step by step
            </button>
          </p>
        </>
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
