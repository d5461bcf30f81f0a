import nodemailer from 'nodemailer';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { ResolverMap } from '../../provider/src/index.js';
import { keyAddresses } from '../../provider/src/keys/index.js';
import {
  allFiles,
  api,
  composeMessage,
  decryptWith,
  inbox,
  makeKey,
  newAccount,
  startTestProvider,
  uploadKey,
  type MailAccount,
  type TestProvider,
} from './helpers.js';

// Both providers read this map on every lookup, so it is filled once both have ports.
const resolver: ResolverMap = {};
let alpha: TestProvider;
let beta: TestProvider;
let alice: MailAccount;
let bob: MailAccount;
let aliceKey: { publicKey: string; privateKey: string };

beforeAll(async () => {
  alpha = await startTestProvider('alpha.test', '127.0.0.2', { resolver });
  beta = await startTestProvider('beta.test', '127.0.0.3', { resolver });
  resolver['alpha.test'] = {
    api: `127.0.0.2:${alpha.ports.api}`,
    mx: `127.0.0.2:${alpha.ports.mx}`,
    caFingerprint: alpha.caFingerprint,
  };
  resolver['beta.test'] = {
    api: `127.0.0.3:${beta.ports.api}`,
    mx: `127.0.0.3:${beta.ports.mx}`,
    caFingerprint: beta.caFingerprint,
  };
  alice = await newAccount(alpha, 'alice');
  bob = await newAccount(beta, 'bob');
  aliceKey = await makeKey(alice.address);
  expect((await uploadKey(alpha, alice, aliceKey.publicKey)).status).toBe(200);
  expect((await uploadKey(beta, bob, (await makeKey(bob.address)).publicKey)).status).toBe(200);
});
afterAll(async () => {
  await alpha?.cleanup();
  await beta?.cleanup();
});

it("resolves the other provider's keys through its own nicknym", async () => {
  const fromBeta = await api(beta, 'GET', `/nicknym?address=${alice.address}`);
  expect(fromBeta.status).toBe(200);
  expect((await openpgp.readKey({ armoredKey: fromBeta.json.openpgp })).getFingerprint()).toBe(
    (await openpgp.readKey({ armoredKey: aliceKey.publicKey })).getFingerprint(),
  );
  const fromAlpha = await api(alpha, 'GET', `/nicknym?address=${bob.address}`);
  expect(fromAlpha.json.address).toBe(bob.address);
  expect((await api(beta, 'GET', '/nicknym?address=nobody@alpha.test')).status).toBe(404);
});

it('finds keys of a domain that only has WKD, and refuses a peer whose CA does not match its pin', async () => {
  const pinned = resolver['alpha.test'];
  const gamma = await startTestProvider('gamma.test', '127.0.0.3', {
    resolver: {
      'alpha.test': { ...pinned, caFingerprint: beta.caFingerprint },
      // beta.test seen as a plain WKD server (no nicknym): the direct method is used.
      'beta.test': { wkd: `127.0.0.3:${beta.ports.api}`, caFingerprint: beta.caFingerprint },
    },
  });
  try {
    const viaWkd = await api(gamma, 'GET', `/nicknym?address=${bob.address}`);
    expect(viaWkd.status).toBe(200);
    expect(keyAddresses(await openpgp.readKey({ armoredKey: viaWkd.json.openpgp }))).toEqual([
      bob.address,
    ]);
    expect((await api(gamma, 'GET', '/nicknym?address=nobody@beta.test')).status).toBe(404);

    const res = await api(gamma, 'GET', `/nicknym?address=${alice.address}`);
    expect(res.status).toBe(502);
    expect(res.json.error.code).toBe('peer_untrusted');
  } finally {
    await gamma.cleanup();
  }
});

it('relays mail from one provider to the other, where it is stored encrypted', async () => {
  const raw = await composeMessage({
    from: bob.address,
    to: alice.address,
    subject: 'cross-provider otter-5521',
    text: 'hello from beta',
  });
  const relay = nodemailer.createTransport({
    host: beta.host,
    port: beta.ports.submission,
    secure: true,
    tls: { ca: beta.caCertPem, servername: beta.domain },
    auth: { user: bob.address, pass: bob.token },
    connectionTimeout: 10_000,
  });
  try {
    await relay.sendMail({ envelope: { from: bob.address, to: [alice.address] }, raw });
  } finally {
    relay.close();
  }
  const [stored] = await inbox(alpha, alice, 1);
  expect((await decryptWith(aliceKey.privateKey, stored as Buffer)).equals(raw)).toBe(true);
  for (const file of allFiles(alpha.dovecot.mailDir)) {
    expect(file.includes('otter-5521')).toBe(false);
    expect(file.includes(bob.address)).toBe(false);
  }
  // The sending provider keeps nothing of it.
  expect(allFiles(beta.dataDir).some((f) => f.includes('otter-5521'))).toBe(false);
});
