/**
 * The scene the add-on's end-to-end tests and screenshots share: a reference provider on
 * loopback, a Thunderbird whose host knows it, "bob" with a published key, and "alice" set up
 * through the add-on exactly as the setup wizard does it.
 */
import { randomBytes } from 'node:crypto';
import {
  hostConfigFor,
  makeKey,
  newAccount,
  startTestProvider,
  uploadKey,
  type TestProvider,
} from '../provider/helpers.js';
import { ThunderbirdRun, type ThunderbirdOptions } from './thunderbird.js';
import type { ControlClient } from './control-client.js';

export interface LeapScene {
  provider: TestProvider;
  tb: ThunderbirdRun;
  control: ControlClient;
  alice: string;
  bob: { id: string; token: string; address: string; privateKey: string; publicKey: string };
  stop(): Promise<void>;
}

export async function startLeapScene(
  options: Pick<ThunderbirdOptions, 'name' | 'hardTimeoutMs' | 'display'>,
  setUpAlice = true,
): Promise<LeapScene> {
  const provider = await startTestProvider('alpha.test');
  let tb: ThunderbirdRun | null = null;
  try {
    tb = await ThunderbirdRun.start({
      ...options,
      hostConfig: hostConfigFor(provider),
    });
    const account = await newAccount(provider, 'bob');
    const key = await makeKey(account.address);
    await uploadKey(provider, account, key.publicKey);
    const control = await tb.control();
    if (setUpAlice) {
      await control.call(
        'setup.run',
        {
          mode: 'signUp',
          domain: 'alpha.test',
          username: 'alice',
          password: `pw-${randomBytes(6).toString('hex')}`,
        },
        120_000,
      );
    }
    const run = tb;
    return {
      provider,
      tb: run,
      control,
      alice: 'alice@alpha.test',
      bob: { ...account, privateKey: key.privateKey, publicKey: key.publicKey },
      stop: async () => {
        await run.stop();
        await provider.cleanup();
      },
    };
  } catch (error) {
    await tb?.stop();
    await provider.cleanup();
    throw error;
  }
}
