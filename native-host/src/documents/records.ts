/**
 * The three synced collections of an account: their RxDB schemas, and the checks a record
 * passes before it is stored. A record that fails is refused with a clear error and nothing
 * is written, so a bug elsewhere cannot put a key into the store that the key manager (or the
 * other device) would later choke on.
 */
import type { RxJsonSchema } from 'rxdb';
import {
  isValidationLevel,
  normaliseAddress,
  type ContactKeyRecord,
  type KeyHistoryEntry,
  type KeySource,
  type OwnKeyRecord,
} from '../keys/index.js';
import { DocumentsError } from './errors.js';

/** RxDB collection names, also the collection names at the provider's sync store. */
export const COLLECTIONS = {
  ownKeys: 'ownkeys',
  contacts: 'contacts',
  settings: 'settings',
} as const;

export type SettingValue = string | number | boolean;

export interface SettingDoc {
  name: string;
  value: SettingValue;
}

const ADDRESS = { type: 'string', maxLength: 320 } as const;
const FINGERPRINT = { type: 'string', maxLength: 64 } as const;
const TIME = { type: 'number' } as const;
const LEVEL = { type: 'string', maxLength: 32 } as const;
const SOURCE = { type: 'string', maxLength: 32 } as const;

export const ownKeySchema: RxJsonSchema<OwnKeyRecord> = {
  title: 'own key pairs',
  version: 0,
  primaryKey: 'fingerprint',
  type: 'object',
  properties: {
    fingerprint: FINGERPRINT,
    address: ADDRESS,
    privateArmored: { type: 'string' },
    publicArmored: { type: 'string' },
    created: TIME,
    expires: TIME,
    active: { type: 'boolean' },
    publishedAt: { type: ['number', 'null'] },
  },
  required: [
    'fingerprint',
    'address',
    'privateArmored',
    'publicArmored',
    'created',
    'expires',
    'active',
    'publishedAt',
  ],
  indexes: ['address'],
};

export const contactSchema: RxJsonSchema<ContactKeyRecord> = {
  title: "contacts' keys",
  version: 0,
  primaryKey: 'address',
  type: 'object',
  properties: {
    address: ADDRESS,
    fingerprint: FINGERPRINT,
    armored: { type: 'string' },
    validation: LEVEL,
    source: SOURCE,
    firstSeen: TIME,
    lastSeen: TIME,
    refreshedAt: TIME,
    expires: { type: ['number', 'null'] },
    encrUsed: { type: 'boolean' },
    signUsed: { type: 'boolean' },
    history: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          fingerprint: FINGERPRINT,
          validation: LEVEL,
          source: SOURCE,
          firstSeen: TIME,
          replacedAt: TIME,
          reason: { type: 'string' },
        },
        required: ['fingerprint', 'validation', 'source', 'firstSeen', 'replacedAt', 'reason'],
      },
    },
  },
  required: [
    'address',
    'fingerprint',
    'armored',
    'validation',
    'source',
    'firstSeen',
    'lastSeen',
    'refreshedAt',
    'expires',
    'encrUsed',
    'signUsed',
    'history',
  ],
};

export const settingSchema: RxJsonSchema<SettingDoc> = {
  title: 'settings',
  version: 0,
  primaryKey: 'name',
  type: 'object',
  properties: {
    name: { type: 'string', maxLength: 64 },
    value: { type: ['string', 'number', 'boolean'] },
  },
  required: ['name', 'value'],
};

const KEY_SOURCES: readonly KeySource[] = [
  'own',
  'autocrypt',
  'autocrypt-gossip',
  'attachment',
  'own-nicknym',
  'provider-nicknym',
  'wkd',
  'vks',
  'manual',
];

type Check = (ok: boolean, what: string) => void;

function checker(kind: string, id: unknown): Check {
  return (ok, what) => {
    if (!ok) {
      const name = typeof id === 'string' && id.length <= 320 ? ` for ${id}` : '';
      throw new DocumentsError('invalid_record', `The ${kind}${name} was not saved: ${what}.`);
    }
  };
}

const isTime = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isFingerprint = (v: unknown) =>
  typeof v === 'string' && /^(?:[0-9A-F]{40}|[0-9A-F]{64})$/.test(v);
const isAddress = (v: unknown) => typeof v === 'string' && normaliseAddress(v) === v;
const isArmored = (v: unknown, block: string) =>
  typeof v === 'string' && v.includes(`-----BEGIN PGP ${block} KEY BLOCK-----`);
const isSource = (v: unknown) => typeof v === 'string' && (KEY_SOURCES as string[]).includes(v);

/** A checked copy holding only the record's own fields (callers' extra fields are not synced). */
export function checkOwnKey(r: OwnKeyRecord): OwnKeyRecord {
  const check = checker('own key', r?.fingerprint);
  check(typeof r === 'object' && r !== null, 'it is not a record');
  check(isFingerprint(r.fingerprint), 'the fingerprint is not upper-case hex');
  check(isAddress(r.address), 'the address is not a normalised e-mail address');
  check(isArmored(r.privateArmored, 'PRIVATE'), 'the private key is not an armoured key');
  check(isArmored(r.publicArmored, 'PUBLIC'), 'the public key is not an armoured key');
  check(isTime(r.created) && isTime(r.expires), 'its dates are not times');
  check(typeof r.active === 'boolean', '"active" is not true or false');
  check(r.publishedAt === null || isTime(r.publishedAt), 'its publication date is not a time');
  return pickOwnKey(r);
}

export function checkContact(r: ContactKeyRecord): ContactKeyRecord {
  const check = checker('contact key', r?.address);
  check(typeof r === 'object' && r !== null, 'it is not a record');
  check(isAddress(r.address), 'the address is not a normalised e-mail address');
  check(isFingerprint(r.fingerprint), 'the fingerprint is not upper-case hex');
  check(isArmored(r.armored, 'PUBLIC'), 'the key is not an armoured public key');
  check(isValidationLevel(r.validation), `"${String(r.validation)}" is not a validation level`);
  check(isSource(r.source), `"${String(r.source)}" is not a key source`);
  check(
    isTime(r.firstSeen) && isTime(r.lastSeen) && isTime(r.refreshedAt),
    'its dates are not times',
  );
  check(r.expires === null || isTime(r.expires), 'its expiry is not a time');
  check(
    typeof r.encrUsed === 'boolean' && typeof r.signUsed === 'boolean',
    'its usage flags are not true or false',
  );
  check(Array.isArray(r.history), 'its history is not a list');
  r.history.forEach((h) => checkHistory(h, check));
  return pickContact(r);
}

function checkHistory(h: KeyHistoryEntry, check: Check): void {
  check(typeof h === 'object' && h !== null, 'a history entry is not a record');
  check(isFingerprint(h.fingerprint), 'a fingerprint in its history is not upper-case hex');
  check(isValidationLevel(h.validation), 'a validation level in its history is unknown');
  check(isSource(h.source), 'a key source in its history is unknown');
  check(isTime(h.firstSeen) && isTime(h.replacedAt), 'a date in its history is not a time');
  check(typeof h.reason === 'string', 'a reason in its history is not text');
}

/** Only the record's own fields: RxDB's bookkeeping and callers' extras are neither returned nor synced. */
export function pickOwnKey(r: OwnKeyRecord): OwnKeyRecord {
  return {
    fingerprint: r.fingerprint,
    address: r.address,
    privateArmored: r.privateArmored,
    publicArmored: r.publicArmored,
    created: r.created,
    expires: r.expires,
    active: r.active,
    publishedAt: r.publishedAt,
  };
}

export function pickContact(r: ContactKeyRecord): ContactKeyRecord {
  return {
    address: r.address,
    fingerprint: r.fingerprint,
    armored: r.armored,
    validation: r.validation,
    source: r.source,
    firstSeen: r.firstSeen,
    lastSeen: r.lastSeen,
    refreshedAt: r.refreshedAt,
    expires: r.expires,
    encrUsed: r.encrUsed,
    signUsed: r.signUsed,
    history: r.history.map(pickHistory),
  };
}

export function pickHistory(h: KeyHistoryEntry): KeyHistoryEntry {
  return {
    fingerprint: h.fingerprint,
    validation: h.validation,
    source: h.source,
    firstSeen: h.firstSeen,
    replacedAt: h.replacedAt,
    reason: h.reason,
  };
}
