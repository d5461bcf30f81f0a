import { useState } from 'preact/hooks';
import type { ContactKeySummary, OwnKeySummary } from '../../../shared/src/rpc.js';
import { failureSentence } from '../../lib/setup-flow.js';
import {
  dateWords,
  groupFingerprint,
  isVerifiedLevel,
  sourceWords,
  validationWords,
} from '../../lib/keys-view.js';

export interface KeysProps {
  own: OwnKeySummary | null;
  contacts: ContactKeySummary[];
  /** A fingerprint to bring into view (from a message banner). */
  highlight: string | null;
  verify(contact: ContactKeySummary): Promise<void>;
  locale?: string;
  /** Every account on this computer; with more than one, the page offers a choice. */
  accounts?: string[];
  /** The account whose keys are shown. */
  account?: string | null;
  choose?(account: string): void;
}

/** In two lines of five groups when space is short, as OpenPGP programs print it. */
export function Fingerprint({ value, twoLines = false }: { value: string; twoLines?: boolean }) {
  const groups = groupFingerprint(value).split(' ');
  if (!twoLines || groups.length <= 5) return <code class="fingerprint">{groups.join(' ')}</code>;
  const half = Math.ceil(groups.length / 2);
  return (
    <code class="fingerprint">
      {groups.slice(0, half).join(' ')}
      <br />
      {groups.slice(half).join(' ')}
    </code>
  );
}

/** Own key and contacts' keys, with "I checked this fingerprint with them". */
export function Keys({
  own,
  contacts,
  highlight,
  verify,
  locale,
  accounts = [],
  account = null,
  choose,
}: KeysProps) {
  const [asking, setAsking] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const confirm = async (c: ContactKeySummary) => {
    setError(null);
    try {
      await verify(c);
      setAsking(null);
    } catch (e) {
      setError(failureSentence(e));
    }
  };
  return (
    <div class="keys">
      {accounts.length > 1 && (
        <label class="account-choice">
          Keys of{' '}
          <select
            value={account ?? undefined}
            onChange={(e) => choose?.((e.target as HTMLSelectElement).value)}
          >
            {accounts.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </label>
      )}
      <h1>Your key</h1>
      {own ? (
        <dl class="own">
          <dt>Address</dt>
          <dd>{own.address}</dd>
          <dt>Fingerprint</dt>
          <dd>
            <Fingerprint value={own.fingerprint} />
          </dd>
          <dt>Created</dt>
          <dd>{dateWords(own.created, locale)}</dd>
          <dt>Expires</dt>
          <dd>{dateWords(own.expires, locale)}</dd>
          <dt>Renewed automatically</dt>
          <dd>{own.renews ? `on ${dateWords(own.renews, locale)}` : 'not needed'}</dd>
          <dt>Published</dt>
          <dd class={own.published ? 'ok' : 'warn'}>
            {own.published
              ? 'yes: others can find it at your provider'
              : 'not yet: LeapBird will publish it as soon as your provider can be reached'}
          </dd>
        </dl>
      ) : (
        <p class="muted">No key yet: set up an account first.</p>
      )}
      <p class="muted">
        Read your fingerprint to a contact (in person or on the phone) so they can verify it.
      </p>

      <h2>Contacts’ keys</h2>
      {error && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {contacts.length === 0 ? (
        <p class="muted">No keys yet. LeapBird finds them when you write to someone.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th>Address</th>
              <th>Fingerprint</th>
              <th>Trust</th>
              <th>Found</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {contacts.map((c) => (
              <tr
                key={c.fingerprint}
                class={highlight && c.fingerprint.toUpperCase() === highlight ? 'highlight' : ''}
              >
                <td>{c.address}</td>
                <td class="nowrap">
                  <Fingerprint value={c.fingerprint} twoLines />
                </td>
                <td class={isVerifiedLevel(c.validation) ? 'ok' : ''}>
                  {validationWords(c.validation)}
                </td>
                <td>{sourceWords(c.source)}</td>
                <td>
                  {isVerifiedLevel(c.validation) ? (
                    <span class="ok">✓ verified</span>
                  ) : asking === c.fingerprint ? (
                    <span class="confirm">
                      Did {c.address} read you exactly this fingerprint?{' '}
                      <button type="button" onClick={() => void confirm(c)}>
                        Yes, it matches
                      </button>{' '}
                      <button type="button" class="link" onClick={() => setAsking(null)}>
                        Cancel
                      </button>
                    </span>
                  ) : (
                    <button type="button" onClick={() => setAsking(c.fingerprint)}>
                      I checked this fingerprint with them
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
