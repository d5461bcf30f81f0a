/**
 * Which protection a message gets, as a pure decision over what the key lookups found.
 * LEAP's rule: encrypt when every recipient has a usable key, otherwise sign only, unless
 * the user asked for "encrypted only"; a message the client already encrypted passes.
 */
import { smtpError, type SmtpError } from './errors.js';

export interface Recipient {
  /** Lower case. */
  address: string;
  /** In the envelope but not in To or Cc: a Bcc recipient, who must stay unseen. */
  hidden: boolean;
}

/** One relay transaction: one copy of the message and who receives it. */
export interface DeliveryPlan {
  recipients: string[];
  /** Public keys the copy is encrypted to (the sender's own key is added by crypto). */
  keys: string[];
}

export type Protection =
  | { kind: 'passthrough'; deliveries: DeliveryPlan[] }
  | { kind: 'encrypt'; deliveries: DeliveryPlan[] }
  | { kind: 'sign'; deliveries: DeliveryPlan[] };

export interface ProtectionInput {
  recipients: Recipient[];
  /** The armoured public key found for each address; null when none is usable. */
  keys: ReadonlyMap<string, string | null>;
  alreadyEncrypted: boolean;
  encryptedOnly: boolean;
}

export function decideProtection(input: ProtectionInput): Protection | SmtpError {
  const everyone = [{ recipients: input.recipients.map((r) => r.address), keys: [] }];
  if (input.alreadyEncrypted) return { kind: 'passthrough', deliveries: everyone };
  const missing = input.recipients.filter((r) => !input.keys.get(r.address));
  if (missing.length === 0) {
    const visible = input.recipients.filter((r) => !r.hidden);
    const keyOf = (r: Recipient) => input.keys.get(r.address) as string;
    const deliveries: DeliveryPlan[] = [];
    if (visible.length > 0) {
      deliveries.push({ recipients: visible.map((r) => r.address), keys: visible.map(keyOf) });
    }
    // A Bcc recipient's key in the shared copy would name them to everyone else: each gets
    // a copy of their own.
    for (const r of input.recipients.filter((x) => x.hidden)) {
      deliveries.push({ recipients: [r.address], keys: [keyOf(r)] });
    }
    return { kind: 'encrypt', deliveries };
  }
  if (input.encryptedOnly) {
    const names = missing.map((r) => r.address).join(', ');
    return smtpError(
      'encryption_required',
      550,
      `5.7.1 Not sent: this message may only go out encrypted, and no usable key was found for ${names}. ` +
        'Remove them, or turn off "encrypted only" for this message.',
    );
  }
  // Signed mail is the same bytes for everyone and names no Bcc recipient: one copy serves all.
  return { kind: 'sign', deliveries: everyone };
}
