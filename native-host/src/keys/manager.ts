/**
 * The key manager: the user's own key (generated once, renewed before expiry, published),
 * and every correspondent's key: found in a fixed order (the own provider's nicknym for its
 * own domain; else a LEAP provider's nicknym, then WKD, then a key server if configured),
 * kept with its validation level, replaced only when LEAP's rules allow, refreshed in the
 * background at random times, raised to Fingerprint when the user checks it by hand.
 *
 * Privacy: the own provider is asked only about addresses of its own domain. Asking it
 * about anyone else would tell it whom the user writes to (Bitmask's nicknym did).
 */
import {
  generateOwnKey,
  inspectKeys,
  isCertifiedBy,
  needsRenewal,
  normaliseFingerprint,
  renewOwnKey,
  type HarvestedKey,
  type KeyInfo,
} from '../crypto/index.js';
import { normaliseAddress } from '../../../shared/src/address.js';
import { silentLogger, type Logger } from '../log/index.js';
import { keyFail, keyOk, type KeyResult } from './errors.js';
import { systemResolver, type Resolver } from './http.js';
import {
  leapProviderFor,
  nicknymLookup,
  vksLookup,
  wkdLookup,
  type NicknymTarget,
  type SourceAnswer,
} from './sources.js';
import type { ContactKeyRecord, KeySource, KeyStore, OwnKeyRecord } from './store.js';
import {
  levelValue,
  upgradeDecision,
  type UpgradeFacts,
  type UpgradeReason,
  type ValidationLevel,
} from './validation.js';

/**
 * How much each source vouches for a key. A key served for a domain by that domain's own
 * provider over verified TLS (nicknym, WKD) is Provider_Trust; anything a message or a
 * public keyserver offers is Weak_Chain; a fingerprint the user checked is Fingerprint.
 */
export const SOURCE_LEVEL: Record<KeySource, ValidationLevel> = {
  own: 'Fingerprint',
  manual: 'Fingerprint',
  'own-nicknym': 'Provider_Trust',
  'provider-nicknym': 'Provider_Trust',
  wkd: 'Provider_Trust',
  vks: 'Weak_Chain',
  autocrypt: 'Weak_Chain',
  'autocrypt-gossip': 'Weak_Chain',
  attachment: 'Weak_Chain',
};

export interface KeyManagerOptions {
  store: KeyStore;
  /** The user's address. */
  address: string;
  /** The user's LEAP provider (api_uri and pinned CA); null for a legacy IMAP/SMTP account. */
  ownProvider?: NicknymTarget | null;
  resolver?: Resolver;
  /** A VKS keyserver; null turns keyserver lookups off. */
  vksUrl?: string | null;
  /** Background refresh of each contact's key at a random time in this window after the last. */
  refreshMinMs?: number;
  refreshMaxMs?: number;
  /** How long "no key found" is believed before the network is asked again. */
  negativeCacheMs?: number;
  /** Uploads the user's public key to the provider (LEAP: PUT /1/users/<id>). */
  publish?: (armoredPublicKey: string) => Promise<void>;
  now?: () => number;
  random?: () => number;
  logger?: Logger;
}

export type RecipientKeyStatus = 'key' | 'no_key' | 'checking';

/** What compose shows next to a recipient. */
export interface RecipientStatus {
  address: string;
  status: RecipientKeyStatus;
  validation: ValidationLevel | null;
  fingerprint: string | null;
  reason: string | null;
}

export interface ConsiderOutcome {
  accepted: boolean;
  reason: UpgradeReason | 'unusable';
  record: ContactKeyRecord | null;
}

interface Candidate {
  info: KeyInfo;
  source: KeySource;
}

interface Discovery {
  candidate: Candidate | null;
  reason: string | null;
}

const HOUR = 3_600_000;
/** Sources that are only a message's say-so. */
const MESSAGE_SOURCES: ReadonlySet<KeySource> = new Set([
  'autocrypt',
  'autocrypt-gossip',
  'attachment',
]);

export class KeyManager {
  readonly address: string;
  private readonly store: KeyStore;
  private readonly ownDomain: string;
  private readonly resolver: Resolver;
  private readonly vksUrl: string | null;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly log: Logger;
  private readonly inFlight = new Map<string, Promise<ContactKeyRecord | null>>();
  private readonly misses = new Map<string, { at: number; reason: string }>();
  private readonly nextRefresh = new Map<string, number>();
  private readonly leapDomains = new Map<string, Promise<boolean>>();
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<number> | null = null;

  constructor(private readonly options: KeyManagerOptions) {
    const own = normaliseAddress(options.address);
    if (!own) throw new Error(`"${options.address}" is not an e-mail address`);
    this.address = own;
    this.ownDomain = own.slice(own.indexOf('@') + 1);
    this.store = options.store;
    this.resolver = options.resolver ?? systemResolver;
    this.vksUrl = options.vksUrl === undefined ? 'https://keys.openpgp.org' : options.vksUrl;
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.log = options.logger ?? silentLogger;
  }

  // ---- the user's own key -------------------------------------------------------------

  /** The user's key pairs, the active one first. */
  async ownKeys(): Promise<OwnKeyRecord[]> {
    const keys = await this.store.listOwnKeys(this.address);
    return keys.sort((a, b) => Number(b.active) - Number(a.active) || b.created - a.created);
  }

  /** Private keys to decrypt with, current first, older ones for older mail. */
  async decryptionKeys(): Promise<string[]> {
    return (await this.ownKeys()).map((k) => k.privateArmored);
  }

  /**
   * Makes sure the user has a usable key: generates one on first use (never when one is
   * already stored, e.g. synced from another device), renews it within 60 days of expiry,
   * and (re)publishes it until the provider has it.
   */
  async ensureOwnKey(): Promise<KeyResult<OwnKeyRecord>> {
    const now = new Date(this.now());
    let active = (await this.ownKeys()).find((k) => k.active);
    if (!active) {
      const key = await generateOwnKey({ address: this.address, now });
      active = {
        address: this.address,
        fingerprint: key.fingerprint,
        privateArmored: key.privateArmored,
        publicArmored: key.publicArmored,
        created: key.created.getTime(),
        expires: key.expires.getTime(),
        active: true,
        publishedAt: null,
      };
      await this.store.putOwnKey(active);
      this.log.info('own_key_generated', { fingerprint: active.fingerprint });
    } else if (needsRenewal(new Date(active.expires), now)) {
      const renewed = await renewOwnKey(active.privateArmored, { now });
      if (!renewed.ok) return keyFail('invalid_key', renewed.error.message);
      active = {
        ...active,
        privateArmored: renewed.value.privateArmored,
        publicArmored: renewed.value.publicArmored,
        expires: renewed.value.expires.getTime(),
        publishedAt: null,
      };
      await this.store.putOwnKey(active);
      this.log.info('own_key_renewed', {
        fingerprint: active.fingerprint,
        expires: active.expires,
      });
    }
    if (active.publishedAt === null && this.options.publish) {
      try {
        await this.options.publish(active.publicArmored);
        active = { ...active, publishedAt: this.now() };
        await this.store.putOwnKey(active);
      } catch (error) {
        // Not fatal: the key works locally and publication is retried on the next call.
        this.log.warn('own_key_publish_failed', { error: (error as Error).message });
      }
    }
    return keyOk(active);
  }

  // ---- correspondents' keys -----------------------------------------------------------

  /**
   * The key to use for an address: the stored one, else found on the network in order
   * (the result is stored). Null when there is none.
   */
  async lookup(
    address: string,
    options: { network?: boolean } = {},
  ): Promise<KeyResult<ContactKeyRecord | null>> {
    const normalised = normaliseAddress(address);
    if (!normalised) return keyFail('invalid_address', `"${address}" is not an e-mail address.`);
    if (normalised === this.address) return keyOk(await this.ownAsContact());
    const stored = await this.store.getContact(normalised);
    const expired = stored !== null && stored.expires !== null && stored.expires <= this.now();
    const onlyFromMessages = stored !== null && MESSAGE_SOURCES.has(stored.source);
    if (stored && onlyFromMessages && !expired && options.network !== false) {
      // A key from a header is only a guess: the address's provider may serve the real one.
      const miss = this.misses.get(normalised);
      const asked = miss && this.now() - miss.at < (this.options.negativeCacheMs ?? HOUR);
      if (!asked) return keyOk((await this.discoverAndStore(normalised)) ?? stored);
    }
    if (stored && (!expired || options.network === false)) {
      this.scheduleRefresh(stored);
      return keyOk(stored);
    }
    if (stored) {
      // Its owner has most likely renewed it (or moved on): ask now rather than at the next refresh.
      return keyOk((await this.discoverAndStore(normalised)) ?? stored);
    }
    if (options.network === false) return keyOk(null);
    const miss = this.misses.get(normalised);
    if (miss && this.now() - miss.at < (this.options.negativeCacheMs ?? HOUR)) return keyOk(null);
    return keyOk(await this.discoverAndStore(normalised));
  }

  /**
   * Key status for compose hints. Unknown addresses start a lookup in the background and
   * show as "checking" (or are waited for with `wait`).
   */
  async recipientStatus(
    addresses: string[],
    options: { wait?: boolean } = {},
  ): Promise<RecipientStatus[]> {
    return Promise.all(addresses.map((a) => this.statusOf(a, options.wait ?? false)));
  }

  private async statusOf(address: string, wait: boolean): Promise<RecipientStatus> {
    const normalised = normaliseAddress(address);
    const none = { validation: null, fingerprint: null };
    if (!normalised)
      return { address, status: 'no_key', ...none, reason: 'This is not an e-mail address.' };
    const hasKey = (r: ContactKeyRecord): RecipientStatus => ({
      address,
      status: 'key',
      validation: r.validation,
      fingerprint: r.fingerprint,
      reason: null,
    });
    const known =
      normalised === this.address
        ? await this.ownAsContact()
        : await this.store.getContact(normalised);
    if (known && (known.expires === null || known.expires > this.now())) return hasKey(known);
    const miss = this.misses.get(normalised);
    if (
      !this.inFlight.has(normalised) &&
      miss &&
      this.now() - miss.at < (this.options.negativeCacheMs ?? HOUR)
    ) {
      return { address, status: 'no_key', ...none, reason: miss.reason };
    }
    const pending = this.discoverAndStore(normalised);
    if (!wait) return { address, status: 'checking', ...none, reason: null };
    const found = await pending;
    if (found && (found.expires === null || found.expires > this.now())) return hasKey(found);
    const why = this.misses.get(normalised)?.reason ?? 'No usable key was found.';
    return {
      address,
      status: 'no_key',
      ...none,
      reason: known ? `The known key has expired. ${why}` : why,
    };
  }

  /**
   * For `openMessage`'s `senderKeys`: the key the manager holds for the sender (looked up if
   * needed). Keys the message carries are learned only afterwards, so a message never
   * vouches for itself: a forged From with an attached key reads "unknown key", not valid.
   */
  async keysForSender(sender: string | null): Promise<string[]> {
    if (!sender) return [];
    const found = await this.lookup(sender);
    return found.ok && found.value ? [found.value.armored] : [];
  }

  /**
   * Files keys a message carried (Autocrypt, gossip, attachments) at Weak_Chain. Not for
   * the user's own provider or another LEAP provider: there nicknym is authoritative, and a
   * key from a header must never pre-empt or replace it.
   */
  async learn(harvested: HarvestedKey[]): Promise<ConsiderOutcome[]> {
    const outcomes: ConsiderOutcome[] = [];
    for (const key of harvested) {
      if (await this.nicknymIsAuthoritative(key.address)) {
        this.log.info('header_key_ignored', { address: key.address, source: key.source });
        outcomes.push({ accepted: false, reason: 'not_allowed', record: null });
        continue;
      }
      outcomes.push(await this.consider(key.address, key.armored, key.source));
    }
    return outcomes;
  }

  /** Is the address on the user's own provider or on a LEAP provider (cached per domain)? */
  private async nicknymIsAuthoritative(address: string): Promise<boolean> {
    const normalised = normaliseAddress(address);
    if (!normalised) return false;
    const domain = normalised.slice(normalised.indexOf('@') + 1);
    if (this.options.ownProvider && domain === this.ownDomain) return true;
    let known = this.leapDomains.get(domain);
    if (!known) {
      known = leapProviderFor(domain, this.resolver).then(
        (found) => found.ok && found.value !== null,
        () => false,
      );
      this.leapDomains.set(domain, known);
    }
    return known;
  }

  /**
   * Offers a key for an address from a source; it is stored when it is usable for the
   * address and LEAP's rules let it replace the key known so far.
   */
  async consider(
    address: string,
    armored: string | Uint8Array,
    source: KeySource,
  ): Promise<ConsiderOutcome> {
    const normalised = normaliseAddress(address);
    if (!normalised) return { accepted: false, reason: 'unusable', record: null };
    const usable = await this.usableKey(armored, normalised);
    if (!usable.ok) {
      this.log.info('key_unusable', { address: normalised, source, reason: usable.error.message });
      return { accepted: false, reason: 'unusable', record: null };
    }
    return this.apply(normalised, { info: usable.value, source }, SOURCE_LEVEL[source]);
  }

  /** The user compared the fingerprint (in person, by phone): raise the key to Fingerprint. */
  async verifyFingerprint(
    address: string,
    fingerprint: string,
  ): Promise<KeyResult<ContactKeyRecord>> {
    const normalised = normaliseAddress(address);
    if (!normalised) return keyFail('invalid_address', `"${address}" is not an e-mail address.`);
    const wanted = normaliseFingerprint(fingerprint);
    let stored = await this.store.getContact(normalised);
    if (stored?.fingerprint !== wanted) {
      // The key the user checked may be newer than the one stored: look again.
      const found = await this.discover(normalised);
      if (found.candidate?.info.fingerprint !== wanted) {
        const have = found.candidate?.info.fingerprint ?? stored?.fingerprint;
        return keyFail(
          'fingerprint_mismatch',
          have
            ? `The key found for ${normalised} has the fingerprint ${have}, not the one you checked.`
            : `No key was found for ${normalised} to compare with.`,
        );
      }
      const applied = await this.apply(normalised, found.candidate, 'Fingerprint');
      if (!applied.record) return keyFail('invalid_key', 'The key could not be stored.');
      return keyOk(applied.record);
    }
    stored = { ...stored, validation: 'Fingerprint', source: 'manual', lastSeen: this.now() };
    await this.store.putContact(stored);
    return keyOk(stored);
  }

  /** Records that a key was used: LEAP's encr_used / sign_used, which the rules consult. */
  async markUsed(address: string, usage: 'encrypt' | 'sign', fingerprint?: string): Promise<void> {
    const normalised = normaliseAddress(address);
    const stored = normalised ? await this.store.getContact(normalised) : null;
    if (!stored || (fingerprint && normaliseFingerprint(fingerprint) !== stored.fingerprint))
      return;
    await this.store.putContact({
      ...stored,
      encrUsed: stored.encrUsed || usage === 'encrypt',
      signUsed: stored.signUsed || usage === 'sign',
      lastSeen: this.now(),
    });
  }

  listContacts(): Promise<ContactKeyRecord[]> {
    return this.store.listContacts();
  }

  // ---- background refresh -------------------------------------------------------------

  /** Starts refreshing stored keys in the background, each at its own random time. */
  start(): void {
    if (this.timer) return;
    const tick = async () => {
      await this.refreshDue().catch((error: Error) =>
        this.log.warn('key_refresh_failed', { error: error.message }),
      );
      if (!this.timer) return;
      const next = Math.min(...this.nextRefresh.values(), this.now() + this.refreshMin());
      this.timer = setTimeout(tick, Math.max(10, Math.min(next - this.now(), HOUR)));
      this.timer.unref();
    };
    this.timer = setTimeout(tick, 0);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Refreshes the keys whose time has come, one after another; returns how many. */
  refreshDue(): Promise<number> {
    this.refreshing ??= this.refreshDueNow().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async refreshDueNow(): Promise<number> {
    let count = 0;
    for (const contact of await this.store.listContacts()) {
      if (this.scheduleRefresh(contact) > this.now()) continue;
      const found = await this.discover(contact.address);
      if (found.candidate)
        await this.apply(contact.address, found.candidate, SOURCE_LEVEL[found.candidate.source]);
      const current = await this.store.getContact(contact.address);
      if (current) await this.store.putContact({ ...current, refreshedAt: this.now() });
      this.nextRefresh.set(contact.address, this.now() + this.refreshDelay());
      count++;
    }
    return count;
  }

  private refreshMin(): number {
    return this.options.refreshMinMs ?? 6 * HOUR;
  }

  private refreshDelay(): number {
    const min = this.refreshMin();
    const max = Math.max(min, this.options.refreshMaxMs ?? 18 * HOUR);
    // Random times, so that lookups do not line up with the moments mail is sent.
    return min + this.random() * (max - min);
  }

  private scheduleRefresh(contact: ContactKeyRecord): number {
    let due = this.nextRefresh.get(contact.address);
    if (due === undefined) {
      due = contact.refreshedAt + this.refreshDelay();
      this.nextRefresh.set(contact.address, due);
    }
    return due;
  }

  // ---- discovery ----------------------------------------------------------------------

  private discoverAndStore(address: string): Promise<ContactKeyRecord | null> {
    let pending = this.inFlight.get(address);
    if (!pending) {
      pending = (async () => {
        const found = await this.discover(address);
        if (!found.candidate) {
          this.misses.set(address, { at: this.now(), reason: found.reason ?? 'No key was found.' });
          return null;
        }
        this.misses.delete(address);
        const outcome = await this.apply(
          address,
          found.candidate,
          SOURCE_LEVEL[found.candidate.source],
        );
        return outcome.record;
      })()
        .catch((error: Error) => {
          // Runs unawaited for compose hints: a failing store must not become an unhandled rejection.
          this.log.warn('key_lookup_failed', { address, error: error.message });
          this.misses.set(address, {
            at: this.now(),
            reason: `The lookup failed: ${error.message}`,
          });
          return null;
        })
        .finally(() => this.inFlight.delete(address));
      this.inFlight.set(address, pending);
    }
    return pending;
  }

  /** The network sources for an address, most authoritative first. */
  private sourcesFor(address: string): { source: KeySource; ask: () => Promise<SourceAnswer> }[] {
    const domain = address.slice(address.indexOf('@') + 1);
    const own = this.options.ownProvider;
    if (own && domain === this.ownDomain) {
      return [{ source: 'own-nicknym', ask: () => nicknymLookup(address, own, this.resolver) }];
    }
    // A LEAP provider's nicknym answers for its own users first: its key is the one the
    // provider vouches for, whatever a WKD server elsewhere in the domain says.
    const sources: { source: KeySource; ask: () => Promise<SourceAnswer> }[] = [
      {
        source: 'provider-nicknym',
        ask: async () => {
          const provider = await leapProviderFor(domain, this.resolver);
          if (!provider.ok || provider.value === null) return provider.ok ? keyOk(null) : provider;
          return nicknymLookup(address, provider.value, this.resolver);
        },
      },
      { source: 'wkd', ask: () => wkdLookup(address, this.resolver) },
    ];
    const vks = this.vksUrl;
    if (vks) sources.push({ source: 'vks', ask: () => vksLookup(address, vks, this.resolver) });
    return sources;
  }

  private async discover(address: string): Promise<Discovery> {
    const reasons: string[] = [];
    for (const { source, ask } of this.sourcesFor(address)) {
      const answer = await ask();
      if (!answer.ok) {
        reasons.push(answer.error.message);
        continue;
      }
      if (answer.value === null) continue;
      const usable = await this.usableKey(answer.value, address);
      if (usable.ok) return { candidate: { info: usable.value, source }, reason: null };
      reasons.push(usable.error.message);
    }
    return {
      candidate: null,
      reason:
        reasons.length > 0
          ? `No usable key was found (${reasons.join('; ')}).`
          : 'No key was found.',
    };
  }

  /** A key fit for an address: carries it as a user ID, can encrypt now, is not revoked. */
  private async usableKey(data: string | Uint8Array, address: string): Promise<KeyResult<KeyInfo>> {
    const keys = await inspectKeys(data, new Date(this.now()));
    if (!keys.ok) return keyFail('invalid_key', keys.error.message);
    const forAddress = keys.value.filter((k) =>
      k.addresses.some((a) => normaliseAddress(a) === address),
    );
    const usable = forAddress.find((k) => k.canEncrypt && !k.revoked);
    if (usable) return keyOk(usable);
    return keyFail(
      'invalid_key',
      forAddress.length > 0
        ? `The key for ${address} is expired or revoked.`
        : `The key offered is not for ${address}.`,
    );
  }

  private async apply(
    address: string,
    candidate: Candidate,
    level: ValidationLevel,
  ): Promise<ConsiderOutcome> {
    const now = this.now();
    if (address === this.address) {
      // Keys for the user's own address come from ensureOwnKey only, never from outside.
      return {
        accepted: false,
        reason: 'own_key_needs_private_part',
        record: await this.ownAsContact(),
      };
    }
    const known = await this.store.getContact(address);
    const { info } = candidate;
    const facts: UpgradeFacts = {
      fingerprint: info.fingerprint,
      validation: level,
      expires: info.expires?.getTime() ?? null,
      encrUsed: false,
      signUsed: false,
      private: false,
      certifiedBy:
        known &&
        known.fingerprint !== info.fingerprint &&
        (await isCertifiedBy(info.publicArmored, known.armored))
          ? [known.fingerprint]
          : [],
    };
    const knownFacts: UpgradeFacts | null = known && {
      ...known,
      private: false,
      certifiedBy: [],
      messageBorne: MESSAGE_SOURCES.has(known.source),
    };
    const decision = upgradeDecision(facts, knownFacts, now);
    if (!decision.allowed) {
      if (known && known.fingerprint !== info.fingerprint) {
        this.log.warn('key_replacement_refused', {
          address,
          known: known.fingerprint,
          offered: info.fingerprint,
          source: candidate.source,
          rule: decision.reason,
        });
      }
      return { accepted: false, reason: decision.reason, record: known };
    }
    let record: ContactKeyRecord;
    if (known && known.fingerprint === info.fingerprint) {
      // The same key again (perhaps renewed): keep what was learned about it.
      const stronger = levelValue(level) > levelValue(known.validation);
      record = {
        ...known,
        armored: info.publicArmored,
        expires: facts.expires,
        validation: stronger ? level : known.validation,
        source: stronger ? candidate.source : known.source,
        lastSeen: now,
        refreshedAt: now,
      };
    } else {
      record = {
        address,
        fingerprint: info.fingerprint,
        armored: info.publicArmored,
        validation: level,
        source: candidate.source,
        firstSeen: now,
        lastSeen: now,
        refreshedAt: now,
        expires: facts.expires,
        encrUsed: false,
        signUsed: false,
        history: known
          ? [
              ...known.history,
              {
                fingerprint: known.fingerprint,
                validation: known.validation,
                source: known.source,
                firstSeen: known.firstSeen,
                replacedAt: now,
                reason: decision.reason,
              },
            ]
          : [],
      };
      if (known) {
        this.log.info('key_replaced', {
          address,
          old: known.fingerprint,
          new: info.fingerprint,
          rule: decision.reason,
        });
      }
    }
    await this.store.putContact(record);
    return { accepted: true, reason: decision.reason, record };
  }

  /** The user's own active key seen as a contact record (for mail to oneself). */
  private async ownAsContact(): Promise<ContactKeyRecord | null> {
    const active = (await this.ownKeys()).find((k) => k.active);
    if (!active) return null;
    return {
      address: this.address,
      fingerprint: active.fingerprint,
      armored: active.publicArmored,
      validation: 'Fingerprint',
      source: 'own',
      firstSeen: active.created,
      lastSeen: this.now(),
      refreshedAt: this.now(),
      expires: active.expires,
      encrUsed: true,
      signUsed: true,
      history: [],
    };
  }
}

// One normaliser for host and add-on; the key manager is where the host's modules find it.
export { normaliseAddress };
