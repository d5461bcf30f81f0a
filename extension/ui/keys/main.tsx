import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { ContactKeySummary, OwnKeySummary } from '../../../shared/src/rpc.js';
import { failureSentence } from '../../lib/setup-flow.js';
import { callHost } from '../bridge.js';
import { Keys } from './Keys.js';

function App() {
  const [own, setOwn] = useState<OwnKeySummary | null>(null);
  const [contacts, setContacts] = useState<ContactKeySummary[]>([]);
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
        const first = status.accounts[0]?.email ?? null;
        setEmail(first);
        if (!first) return;
        const [o, c] = await Promise.all([
          callHost('keys.own', { email: first }),
          callHost('keys.contacts', { email: first }),
        ]);
        setOwn(o);
        setContacts(c);
      } catch (e) {
        setProblem(failureSentence(e));
      }
    })();
  }, []);
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
      <Keys own={own} contacts={contacts} highlight={highlight} verify={verify} />
    </>
  );
}

render(<App />, document.getElementById('root')!);
