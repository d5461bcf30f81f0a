import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { initialState, type AddonState } from '../../lib/state.js';
import { ask, onBroadcast } from '../bridge.js';
import { Popup } from './Popup.js';

function App() {
  const [state, setState] = useState<AddonState>(initialState);
  useEffect(() => {
    void ask<AddonState>({ type: 'state.get' }).then(setState);
    return onBroadcast((m) => m.type === 'state.changed' && setState(m.state));
  }, []);
  const open = (type: 'open.keys' | 'open.setup') => () =>
    void ask({ type }).then(() => window.close());
  const logOut = (email: string, removeAccount: boolean) =>
    void ask({ type: 'account.logOut', email, removeAccount }).then(() => window.close());
  return (
    <Popup
      state={state}
      openKeys={open('open.keys')}
      openSetup={open('open.setup')}
      logOut={logOut}
    />
  );
}

render(<App />, document.getElementById('root')!);
