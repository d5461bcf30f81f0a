import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { ContactKeySummary, OwnKeySummary } from '../../../shared/src/rpc.js';
import { failureSentence } from '../../lib/setup-flow.js';
import { callHost } from '../bridge.js';
import { Keys } from './Keys.js';

function App() {
  const [own, setOwn] = useState<OwnKeySummary | null>(null);
  const [contacts, setContacts] = useState<ContactKeySummary[]>([]);
  const [accounts, setAccounts] = useState<string[]>([]);
  const [email, setEmail] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  useEffect(() => {
    void (async () => {
      try {
        const status = await callHost('host.status', {});
        const all = status.accounts.map((a) => a.email);
        setAccounts(all);
        setEmail(all[0] ?? null);
      } catch (e) {
        setProblem(failureSentence(e));
      }
    })();
  }, []);
  useEffect(() => {
    if (!email) return;
    setOwn(null);
    setContacts([]);
    void (async () => {
      try {
        const [o, c] = await Promise.all([
          callHost('keys.own', { email }),
          callHost('keys.contacts', { email }),
        ]);
        setOwn(o);
        setContacts(c);
      } catch (e) {
        setProblem(failureSentence(e));
      }
    })();
  }, [email]);
  const verify = async (c: ContactKeySummary) => {
    if (!email) return;
    const updated = await callHost('keys.verify', {
      email,
      contact: c.address,
      fingerprint: c.fingerprint,
    });
    setContacts((list) => list.map((x) => (x.fingerprint === c.fingerprint ? updated : x)));
  };
  const highlight = hash.slice(1).toUpperCase() || null;
  return (
    <>
      {problem && <p class="error">{problem}</p>}
      <Keys
        own={own}
        contacts={contacts}
        highlight={highlight}
        verify={verify}
        accounts={accounts}
        account={email}
        choose={setEmail}
      />
    </>
  );
}

render(<App />, document.getElementById('root')!);
