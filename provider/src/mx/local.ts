/**
 * Delivery to the provider's own users: encrypt to the recipient's key in memory, then hand
 * the ciphertext to Dovecot. Mail for a user who has not uploaded a key yet is held in a
 * spool (see provider/README.md, "Mail for users without a key") and delivered when the key
 * arrives, or bounced after `holdMs`.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import type { ProviderContext } from '../context.js';
import type { UserRecord } from '../store/index.js';
import type { Lmtp } from './lmtp.js';
import { encryptOnReceipt, isEncryptedTo } from './pgpmime.js';

export type Bounce = (sender: string, raw: Buffer) => Promise<void>;

export interface LocalDeliveryOptions {
  ctx: ProviderContext;
  lmtp: Lmtp;
  spoolDir: string;
  /** Off only for the benchmark's baseline. */
  encrypt: boolean;
}

export class LocalDelivery {
  private keys = new Map<string, openpgp.PublicKey>();
  private releasing = new Set<string>();
  bounce: Bounce = async () => {};

  constructor(private readonly o: LocalDeliveryOptions) {
    mkdirSync(o.spoolDir, { recursive: true, mode: 0o700 });
  }

  async deliver(raw: Buffer, sender: string, user: UserRecord): Promise<'delivered' | 'held'> {
    if (!this.o.encrypt) {
      await this.o.lmtp.deliver(user.address, raw);
      return 'delivered';
    }
    if (!user.publicKey || !user.keyFingerprint) {
      await this.hold(raw, sender, user);
      return 'held';
    }
    const key = await this.keyOf(user.keyFingerprint, user.publicKey);
    const stored = (await isEncryptedTo(raw, key))
      ? raw
      : await encryptOnReceipt(raw, key, user.address, this.o.ctx.domain);
    await this.o.lmtp.deliver(user.address, stored);
    return 'delivered';
  }

  private async keyOf(fingerprint: string, armored: string): Promise<openpgp.PublicKey> {
    let key = this.keys.get(fingerprint);
    if (!key) {
      key = await openpgp.readKey({ armoredKey: armored });
      this.keys.set(fingerprint, key);
    }
    return key;
  }

  private async hold(raw: Buffer, sender: string, user: UserRecord): Promise<void> {
    const id = randomBytes(16).toString('hex');
    const path = join(this.o.spoolDir, `${id}.eml`);
    writeFileSync(path, raw, { mode: 0o600, flag: 'wx' });
    await this.o.ctx.store.holdMessage({
      id,
      userId: user.id,
      path,
      sender,
      receivedAt: this.o.ctx.now(),
    });
    this.o.ctx.log.info('mail_held', { user: user.id, bytes: raw.length });
  }

  /** Delivers everything held for `user` (called when the user uploads a key). */
  async releaseFor(user: UserRecord): Promise<void> {
    for (const held of await this.o.ctx.store.heldFor(user.id)) {
      if (this.releasing.has(held.id)) continue;
      this.releasing.add(held.id);
      try {
        await this.deliver(readFileSync(held.path), held.sender, user);
        // Removed only after Dovecot accepted the encrypted copy: a crash in between
        // delivers twice rather than never.
        await this.o.ctx.store.releaseHeld(held.id);
        rmSync(held.path, { force: true });
        this.o.ctx.log.info('mail_released', { user: user.id });
      } catch (err) {
        this.o.ctx.log.warn('mail_release_failed', {
          user: user.id,
          error: (err as Error).message,
        });
      } finally {
        this.releasing.delete(held.id);
      }
    }
  }

  /** Bounces and deletes mail held longer than the limit, and delivers held mail of users who
   * have a key by now (a delivery that failed, or a crash, right after the upload). */
  async sweep(now = this.o.ctx.now()): Promise<void> {
    await this.expire(now);
    const owners = new Set(
      (await this.o.ctx.store.heldBefore(Number.MAX_SAFE_INTEGER)).map((h) => h.userId),
    );
    for (const id of owners) {
      const user = await this.o.ctx.store.userById(id);
      if (user?.publicKey) await this.releaseFor(user);
    }
  }

  private async expire(now: number): Promise<void> {
    for (const held of await this.o.ctx.store.heldBefore(now - this.o.ctx.limits.holdMs)) {
      const user = await this.o.ctx.store.userById(held.userId);
      if (held.sender && user) {
        await this.bounce(
          held.sender,
          bounceMessage(this.o.ctx.domain, held.sender, user.address, held.receivedAt),
        ).catch((err) => this.o.ctx.log.warn('bounce_failed', { error: (err as Error).message }));
      }
      await this.o.ctx.store.releaseHeld(held.id);
      rmSync(held.path, { force: true });
      this.o.ctx.log.info('mail_expired', { user: held.userId });
    }
  }
}

/** A delivery failure notice that does not quote the original (it was never encrypted). */
export function bounceMessage(
  domain: string,
  sender: string,
  recipient: string,
  receivedAt: number,
): Buffer {
  const lines = [
    `From: Mail Delivery System <MAILER-DAEMON@${domain}>`,
    `To: <${sender}>`,
    `Subject: Undelivered mail: ${recipient} has no encryption key`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${randomBytes(16).toString('hex')}@${domain}>`,
    `Auto-Submitted: auto-replied`,
    `MIME-Version: 1.0`,
    `Content-Type: text/plain; charset=utf-8`,
    '',
    `Your message to <${recipient}>, received ${new Date(receivedAt).toUTCString()},`,
    `could not be delivered: the recipient has not set up encryption in time,`,
    `and ${domain} stores mail only encrypted. The message has been deleted.`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'), 'utf8');
}
