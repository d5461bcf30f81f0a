/**
 * Key discovery: nicknym (LEAP's lookup, which also asks other LEAP providers) and WKD.
 */
import * as openpgp from 'openpgp';
import type { ProviderContext } from '../context.js';
import { ProviderError } from '../errors.js';
import { checkPublicKey, wkdHash } from '../keys/index.js';
import type { Router } from './http.js';

const EMAIL = /^([a-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64})@([a-z0-9-]+(?:\.[a-z0-9-]+)+)$/;
const FINGERPRINT = /^[0-9a-f]{40}$/;

const notFound = (what: string) =>
  new ProviderError('not_found', `No key is known for ${what}`, 404);

/** LEAP strips `+suffix` from local parts: alice+lists@ is alice@. */
export function normaliseAddress(address: string): {
  address: string;
  local: string;
  domain: string;
} {
  const match = EMAIL.exec(address.trim().toLowerCase());
  if (!match)
    throw new ProviderError('invalid_address', `"${address}" is not an e-mail address`, 400);
  const local = (match[1] as string).replace(/\+.*$/, '');
  const domain = match[2] as string;
  return { address: `${local}@${domain}`, local, domain };
}

export function addKeyRoutes(router: Router, ctx: ProviderContext): void {
  router.add('GET', /^\/nicknym\/?$/, async (req) => {
    const addressParam = req.query.get('address');
    const fingerprintParam = req.query.get('fingerprint');
    if (fingerprintParam !== null) {
      const fpr = fingerprintParam.replace(/\s/g, '').toLowerCase();
      if (!FINGERPRINT.test(fpr))
        throw new ProviderError(
          'invalid_fingerprint',
          'fingerprint must be 40 hexadecimal digits',
          400,
        );
      const user = await ctx.store.userByFingerprint(fpr);
      if (!user?.publicKey) throw notFound(fpr);
      return { json: { address: user.address, openpgp: user.publicKey } };
    }
    if (addressParam === null)
      throw new ProviderError('bad_request', 'Ask with ?address= or ?fingerprint=', 400);
    const { address, local, domain } = normaliseAddress(addressParam);
    if (domain === ctx.domain) {
      const user = await ctx.store.userByAddress(address);
      if (!user?.publicKey) throw notFound(address);
      return { json: { address, openpgp: user.publicKey } };
    }
    return { json: await remoteLookup(ctx, address, local, domain) };
  });

  const wkd = async (hash: string, domain: string) => {
    if (domain !== ctx.domain)
      throw new ProviderError(
        'not_found',
        `This server publishes keys for ${ctx.domain} only`,
        404,
      );
    const user = await ctx.store.userByWkdHash(hash);
    if (!user?.publicKey) throw notFound('this address');
    const key = await openpgp.readKey({ armoredKey: user.publicKey });
    return {
      bytes: Buffer.from(key.write()),
      type: 'application/octet-stream',
      headers: { 'access-control-allow-origin': '*' },
    };
  };
  router.add('GET', /^\/\.well-known\/openpgpkey\/hu\/([a-z0-9]{32})$/, async (req) =>
    wkd(req.params[0] ?? '', ctx.domain),
  );
  router.add('GET', /^\/\.well-known\/openpgpkey\/([^/]+)\/hu\/([a-z0-9]{32})$/, async (req) =>
    wkd(req.params[1] ?? '', (req.params[0] ?? '').toLowerCase()),
  );
  const policy = async () => ({
    bytes: '',
    type: 'text/plain',
    headers: { 'access-control-allow-origin': '*' },
  });
  router.add('GET', /^\/\.well-known\/openpgpkey\/policy$/, policy);
  router.add('GET', /^\/\.well-known\/openpgpkey\/[^/]+\/policy$/, policy);
}

/** Looks a key up at another domain, as LEAP's nickserver does: that provider's nicknym when
 * it is a LEAP provider, then WKD (direct method). Whatever the peer claims, the answer must be
 * a usable public key with a user ID for the address asked. */
async function remoteLookup(
  ctx: ProviderContext,
  address: string,
  local: string,
  domain: string,
): Promise<{ address: string; openpgp: string }> {
  const peer = await ctx.resolver.discover(domain);
  if (peer?.api) {
    const res = await peerGet(
      ctx,
      domain,
      'api',
      `/nicknym?address=${encodeURIComponent(address)}`,
    );
    if (res.status === 200) {
      let parsed: { openpgp?: unknown };
      try {
        parsed = JSON.parse(res.body.toString('utf8')) as { openpgp?: unknown };
      } catch {
        throw new ProviderError(
          'peer_invalid',
          `The provider of ${domain} sent an unreadable answer`,
          502,
        );
      }
      return { address, openpgp: await validKey(String(parsed.openpgp ?? ''), address, domain) };
    }
    if (res.status !== 404) {
      throw new ProviderError(
        'peer_unavailable',
        `The provider of ${domain} answered ${res.status}`,
        502,
      );
    }
  }
  const wkd = peer?.wkd ? 'wkd' : peer?.api ? 'api' : null;
  if (!wkd) throw notFound(address);
  const res = await peerGet(
    ctx,
    domain,
    wkd,
    `/.well-known/openpgpkey/hu/${wkdHash(local)}?l=${encodeURIComponent(local)}`,
  );
  if (res.status !== 200) throw notFound(address);
  let armored: string;
  try {
    armored = (await openpgp.readKey({ binaryKey: res.body })).armor();
  } catch {
    throw new ProviderError(
      'peer_invalid',
      `The WKD server of ${domain} sent no readable key`,
      502,
    );
  }
  return { address, openpgp: await validKey(armored, address, domain) };
}

async function peerGet(ctx: ProviderContext, domain: string, service: 'api' | 'wkd', path: string) {
  try {
    return await ctx.resolver.peerGet(domain, service, path);
  } catch (err) {
    if (err instanceof ProviderError) throw err;
    throw new ProviderError(
      'peer_unavailable',
      `The provider of ${domain} did not answer: ${(err as Error).message}`,
      502,
    );
  }
}

async function validKey(armored: string, address: string, domain: string): Promise<string> {
  try {
    return (await checkPublicKey(armored, address)).armored;
  } catch {
    throw new ProviderError('peer_invalid', `${domain} sent no valid key for ${address}`, 502);
  }
}
