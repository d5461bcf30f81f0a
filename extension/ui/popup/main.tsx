import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import {
  initialState,
  type AddonState,
  type UiBroadcast,
  type UiRequest,
} from '../../lib/state.js';
import { Popup } from './Popup.js';

function App() {
  const [state, setState] = useState<AddonState>(initialState);
  useEffect(() => {
    const request: UiRequest = { type: 'state.get' };
    void messenger.runtime.sendMessage(request).then((s: AddonState) => s && setState(s));
    const listener = (message: UiBroadcast) => {
      if (message?.type === 'state.changed') setState(message.state);
      return undefined;
    };
    messenger.runtime.onMessage.addListener(listener);
    return () => messenger.runtime.onMessage.removeListener(listener);
  }, []);
  return <Popup state={state} />;
}

render(<App />, document.getElementById('root')!);
