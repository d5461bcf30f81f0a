import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { ComposeView } from '../../lib/messages.js';
import { ask, onBroadcast } from '../bridge.js';
import { ComposePanel } from './ComposePanel.js';

function App() {
  const [tabId, setTabId] = useState<number | null>(null);
  const [view, setView] = useState<ComposeView | null>(null);
  useEffect(() => {
    void messenger.tabs.query({ active: true, currentWindow: true }).then(async ([tab]) => {
      if (tab?.id === undefined) return;
      setTabId(tab.id);
      setView(await ask<ComposeView | null>({ type: 'compose.get', tabId: tab.id }));
    });
  }, []);
  useEffect(
    () => onBroadcast((m) => m.type === 'compose.changed' && m.tabId === tabId && setView(m.view)),
    [tabId],
  );
  const setEncryptedOnly = (on: boolean) => {
    if (tabId === null) return;
    void ask<ComposeView>({ type: 'compose.setEncryptedOnly', tabId, on }).then(setView);
  };
  return <ComposePanel view={view} setEncryptedOnly={setEncryptedOnly} />;
}

render(<App />, document.getElementById('root')!);
