/**
 * One submitted message, from the DATA stream to the outbox: stored as it came (encrypted
 * at rest, never whole in memory), keys looked up for every envelope recipient, the
 * protection decided, each copy made by streaming the stored original through crypto into
 * a new blob, and the lot recorded in one transaction. Only then does the client hear 250;
 * on any refusal every blob written for the message is removed again.
 */
import {
  encryptMessage,
  encryptMessageStream,
  isWholeOpenPGPMessage,
  looksEncrypted,
  signMessageStream,
  type SenderOptions,
} from '../crypto/index.js';
import type { KeyManager } from '../keys/index.js';
import type { Logger } from '../log/index.js';
import { smtpError, type SmtpError } from './errors.js';
import {
  addressesIn,
  fieldValue,
  fieldValues,
  readHead,
  rewriteHeaderStream,
  type HeaderField,
} from '../mime/index.js';
import type { Outbox, OutboxEntry } from './outbox/index.js';
import { decideProtection, type DeliveryPlan, type Recipient } from './policy.js';

/** What the submission path needs from the key manager. */
export type RecipientKeys = Pick<KeyManager, 'lookup' | 'ensureOwnKey'>;

export interface SubmissionContext {
  outbox: Outbox;
  keys: RecipientKeys;
  /** The account's "encrypted only" setting. */
  encryptedOnly: boolean;
  /** Attach the sender's public key as application/pgp-keys, as LEAP did. */
  attachPublicKey: boolean;
  maxMessageBytes: number;
  logger: Logger;
  now?: () => number;
}

export interface Envelope {
  from: string;
  to: string[];
}

/** Messages up to this size are encrypted in memory; larger ones stream. */
const STREAM_ABOVE_BYTES = 1024 * 1024;
/** How much of the body `looksEncrypted` needs to spot inline PGP at the top. */
const SNIFF_BYTES = 64 * 1024;

class TooLarge extends Error {}

/**
 * The source up to `max` bytes. Past that it reads on to the end without keeping anything
 * and only then fails: the client is still sending, and an SMTP reply must wait for the
 * end of DATA.
 */
async function* limited(source: AsyncIterable<Uint8Array>, max: number) {
  let size = 0;
  for await (const chunk of source) {
    size += chunk.length;
    if (size <= max) yield chunk;
  }
  if (size > max) throw new TooLarge();
}

/** Reads the stored original's header fields and the start of its body (and closes the read). */
async function headOf(
  outbox: Outbox,
  blobId: string,
): Promise<{ fields: HeaderField[]; sniff: Buffer } | null> {
  const stream = outbox.read(blobId);
  try {
    const head = await readHead(stream);
    if (!head) return null;
    const sniff = [head.separator, head.bodyStart];
    let size = head.bodyStart.length;
    while (size < SNIFF_BYTES) {
      const next = await head.rest.next();
      if (next.done) break;
      sniff.push(Buffer.from(next.value));
      size += next.value.length;
    }
    return { fields: head.fields, sniff: Buffer.concat([head.header, ...sniff]) };
  } finally {
    stream.destroy();
  }
}

/** Bcc, and the add-on's X-Leap-* fields that steer this server: they never leave the machine. */
const dropOnSend = (key: string) => key === 'bcc' || key.startsWith('x-leap-');

/**
 * The stored original as it may leave the machine: without Bcc and X-Leap-* fields, its
 * header in CRLF form (a bare CR cannot hide a Bcc line from the removal).
 */
async function* outgoing(outbox: Outbox, blobId: string): AsyncGenerator<Buffer> {
  const stream = outbox.read(blobId);
  try {
    yield* rewriteHeaderStream(stream, { drop: dropOnSend });
  } finally {
    stream.destroy();
  }
}

async function usableKey(
  keys: RecipientKeys,
  address: string,
  now: number,
): Promise<string | null> {
  try {
    const found = await keys.lookup(address);
    if (!found.ok || !found.value) return null;
    const { expires, armored } = found.value;
    return expires === null || expires > now ? armored : null;
  } catch {
    return null;
  }
}

export async function submitMessage(
  ctx: SubmissionContext,
  envelope: Envelope,
  data: AsyncIterable<Uint8Array>,
): Promise<
  { ok: true; id: string; protection: OutboxEntry['protection'] } | { ok: false; error: SmtpError }
> {
  let original: string;
  let size: number;
  try {
    ({ id: original, size } = await ctx.outbox.put(limited(data, ctx.maxMessageBytes)));
  } catch (error) {
    if (error instanceof TooLarge) {
      const mb = Math.floor(ctx.maxMessageBytes / (1024 * 1024));
      return fail(
        smtpError(
          'message_too_large',
          552,
          `5.3.4 The message is larger than the ${mb} MB this account accepts.`,
        ),
      );
    }
    ctx.logger.error('outbox_write_failed', { error: (error as Error).message });
    return fail(
      smtpError(
        'outbox_unavailable',
        451,
        '4.3.0 The message could not be stored for sending; try again.',
      ),
    );
  }
  const written = [original];
  try {
    const prepared = await prepare(ctx, envelope, { id: original, size }, written);
    if ('code' in prepared) {
      ctx.outbox.release(written);
      await ctx.outbox.discard(written);
      return fail(prepared);
    }
    const id = ctx.outbox.enqueue(prepared);
    ctx.outbox.release(written);
    ctx.outbox.kick();
    return { ok: true, id, protection: prepared.protection };
  } catch (error) {
    ctx.logger.error('submission_failed', { error: (error as Error).message });
    ctx.outbox.release(written);
    await ctx.outbox.discard(written);
    return fail(
      smtpError(
        'outbox_unavailable',
        451,
        '4.3.0 The message could not be prepared for sending; try again.',
      ),
    );
  }
}

function fail(error: SmtpError): { ok: false; error: SmtpError } {
  return { ok: false, error };
}

async function prepare(
  ctx: SubmissionContext,
  envelope: Envelope,
  stored: { id: string; size: number },
  written: string[],
): Promise<OutboxEntry | SmtpError> {
  const { outbox } = ctx;
  const original = stored.id;
  const read = await headOf(outbox, original);
  const fields = read ? read.fields : [];
  if (!read || !fieldValue(fields, 'from')) {
    return smtpError(
      'malformed_message',
      554,
      '5.6.0 This is not a mail message: it has no header section with a From field.',
    );
  }
  const visible = new Set(
    addressesIn([...fieldValues(fields, 'to'), ...fieldValues(fields, 'cc')]),
  );
  const recipients: Recipient[] = [...new Set(envelope.to.map((a) => a.toLowerCase()))].map(
    (address) => ({ address, hidden: !visible.has(address) }),
  );
  const inMemory = async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of outgoing(outbox, original)) chunks.push(chunk);
    return Buffer.concat(chunks);
  };
  // Passed through only when the whole message is one OpenPGP message; a forwarded inline
  // message with the user's own text around it is plaintext and gets protected as such.
  const alreadyEncrypted =
    looksEncrypted(read.sniff) && (await isWholeOpenPGPMessage(await inMemory()));
  const now = (ctx.now ?? Date.now)();
  const keys = new Map<string, string | null>();
  if (!alreadyEncrypted) {
    const found = await Promise.all(recipients.map((r) => usableKey(ctx.keys, r.address, now)));
    recipients.forEach((r, i) => keys.set(r.address, found[i] ?? null));
  }
  const asked = fieldValue(fields, 'x-leap-encrypted-only');
  const decision = decideProtection({
    recipients,
    keys,
    alreadyEncrypted,
    encryptedOnly: ctx.encryptedOnly || (asked !== null && /^(yes|true|1)$/i.test(asked)),
  });
  if ('code' in decision) return decision;

  const entry = (sentBlob: string, deliveries: OutboxEntry['deliveries']): OutboxEntry => ({
    sender: envelope.from.toLowerCase(),
    subject: fieldValue(fields, 'subject'),
    protection: decision.kind,
    originalBlob: original,
    sentBlob,
    deliveries,
  });
  const store = async (source: AsyncIterable<Uint8Array> | Uint8Array): Promise<string> => {
    const { id } = await outbox.put(source instanceof Uint8Array ? [source] : source);
    written.push(id);
    return id;
  };

  if (decision.kind === 'passthrough') {
    const copy = await store(outgoing(outbox, original));
    return entry(copy, [{ blobId: copy, recipients: decision.deliveries[0]!.recipients }]);
  }

  const own = await ctx.keys.ensureOwnKey();
  if (!own.ok) {
    return smtpError(
      'own_key_unusable',
      451,
      `4.7.0 Your own key is not ready: ${own.error.message}`,
    );
  }
  const sender: SenderOptions = {
    senderAddress: own.value.address,
    senderPrivateKey: own.value.privateArmored,
    autocrypt: true,
    attachPublicKey: ctx.attachPublicKey,
  };
  const encrypted = async (plan: DeliveryPlan | null): Promise<string | SmtpError> => {
    const options = { ...sender, recipientKeys: plan?.keys ?? [] };
    // Web streams cost milliseconds to set up: most mail is small enough to encrypt at once.
    const result =
      stored.size <= STREAM_ABOVE_BYTES
        ? await encryptMessage(await inMemory(), options)
        : await encryptMessageStream(outgoing(outbox, original), options);
    if (!result.ok) return protectionFailed(result.error.message);
    return store(result.value);
  };

  if (decision.kind === 'encrypt') {
    const deliveries: OutboxEntry['deliveries'] = [];
    for (const plan of decision.deliveries) {
      const copy = await encrypted(plan);
      if (typeof copy !== 'string') return copy;
      deliveries.push({ blobId: copy, recipients: plan.recipients });
    }
    // The copy To and Cc share is readable by the sender too; a Bcc-only message gets its own.
    const first = decision.deliveries[0]!;
    const sent = first.recipients.some((a) => visible.has(a))
      ? deliveries[0]!.blobId
      : await encrypted(null);
    if (typeof sent !== 'string') return sent;
    return entry(sent, deliveries);
  }

  // Sign only: the stored original is read again for each pass, never held whole.
  const signed = await signMessageStream(() => outgoing(outbox, original), sender);
  if (!signed.ok) return protectionFailed(signed.error.message);
  const copy = await store(signed.value);
  const sent = await encrypted(null);
  if (typeof sent !== 'string') return sent;
  return entry(sent, [{ blobId: copy, recipients: decision.deliveries[0]!.recipients }]);
}

function protectionFailed(detail: string): SmtpError {
  return smtpError('protection_failed', 554, `5.7.0 The message could not be protected: ${detail}`);
}
