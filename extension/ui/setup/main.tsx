import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { hostProblemOf, installGuide } from '../../lib/install-guide.js';
import { initialState, type AddonState } from '../../lib/state.js';
import { ask, callHost, onBroadcast } from '../bridge.js';
import { Setup, type SetupActions } from './Setup.js';

const actions: SetupActions = {
  describeProvider: (domain) => callHost('setup.provider', { domain }),
  run: (mode, credentials) => ask({ type: 'setup.run', mode, ...credentials }),
  discover: (email) => callHost('setup.discover', { email }),
  runLegacy: (setup) => ask({ type: 'setup.legacy', ...setup }),
  openKeys: () => void ask({ type: 'open.keys' }),
};

function App() {
  const [state, setState] = useState<AddonState>(initialState);
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const changed = () => setHash(location.hash);
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  useEffect(() => {
    void ask<AddonState>({ type: 'state.get' }).then(setState);
    return onBroadcast((m) => m.type === 'state.changed' && setState(m.state));
  }, []);
  const problem = hostProblemOf(state);
  const hostProblem = state.phase === 'disconnected' ? state.lastError : null;
  return (
    <Setup
      key={hash}
      actions={actions}
      progress={state.progress?.message ?? null}
      hostProblem={hostProblem}
      hostGuide={problem ? installGuide(problem, state.platform) : null}
      initialDomain={decodeURIComponent(hash.slice(1))}
      accounts={(state.status?.accounts ?? []).map((a) => a.email)}
    />
  );
}

render(<App />, document.getElementById('root')!);
