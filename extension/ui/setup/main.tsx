import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { initialState, type AddonState } from '../../lib/state.js';
import { ask, callHost, onBroadcast } from '../bridge.js';
import { Setup, type SetupActions } from './Setup.js';

const actions: SetupActions = {
  describeProvider: (domain) => callHost('setup.provider', { domain }),
  run: (mode, credentials) => ask({ type: 'setup.run', mode, ...credentials }),
  openKeys: () => void ask({ type: 'open.keys' }),
};

function App() {
  const [state, setState] = useState<AddonState>(initialState);
  useEffect(() => {
    void ask<AddonState>({ type: 'state.get' }).then(setState);
    return onBroadcast((m) => m.type === 'state.changed' && setState(m.state));
  }, []);
  const hostProblem =
    state.phase === 'host_missing' || state.phase === 'disconnected' ? state.lastError : null;
  return (
    <Setup actions={actions} progress={state.progress?.message ?? null} hostProblem={hostProblem} />
  );
}

render(<App />, document.getElementById('root')!);
