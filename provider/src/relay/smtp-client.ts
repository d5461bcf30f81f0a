/**
 * A small SMTP client for relaying to another MX: EHLO, STARTTLS, and only once the TLS
 * policy accepts the server's certificate, the transaction. Written here rather than with
 * nodemailer because DANE must look at the presented chain before anything is sent, and
 * an unverified TLS connection must never carry MAIL FROM.
 */
import { X509Certificate } from 'node:crypto';
import { createConnection, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { peerChain } from '../dns/index.js';

export interface TlsRequirement {
  /** Without STARTTLS the delivery fails (DANE, MTA-STS enforce, LEAP peers). */
  required: boolean;
  /** Name for SNI and certificate checks. */
  servername: string;
  /** CAs for the handshake's own chain check (read by `verify` via `socket.authorized`). */
  ca?: string[];
  /** Checks the TLS connection; a reason string refuses it, null accepts it. */
  verify(socket: TLSSocket, chain: X509Certificate[]): string | null;
}

export interface SmtpDelivery {
  host: string;
  port: number;
  helo: string;
  from: string;
  to: string[];
  raw: Buffer;
  tls: TlsRequirement;
  timeoutMs: number;
}

/** A failure with the SMTP reply code when the server answered (>= 500: permanent). */
export class SmtpFailure extends Error {
  constructor(
    message: string,
    readonly code: number | null,
  ) {
    super(message);
  }
}

interface Reply {
  code: number;
  lines: string[];
}

/** Reads multi-line SMTP replies from whichever socket is current. */
class ReplyReader {
  private buffer = '';
  private replies: Reply[] = [];
  private lines: string[] = [];
  private waiting: ((r: Reply | Error) => void) | null = null;
  private failure: Error | null = null;
  private detach: () => void = () => {};

  attach(socket: Socket | TLSSocket): void {
    this.detach();
    // Anything the server sent after its reply to STARTTLS came in plaintext: an attacker's
    // injected replies (CVE-2011-0411 style) must not be read as answers over TLS.
    if (this.buffer !== '' || this.replies.length > 0 || this.lines.length > 0) {
      this.buffer = '';
      this.replies = [];
      this.lines = [];
      this.fail(new SmtpFailure('the server sent data after its STARTTLS reply', null));
    }
    const onData = (chunk: Buffer) => this.push(chunk.toString('latin1'));
    const onEnd = () => this.fail(new SmtpFailure('the server closed the connection', null));
    const onError = (err: Error) => this.fail(new SmtpFailure(err.message, null));
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('error', onError);
    this.detach = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
    };
  }

  private push(text: string) {
    this.buffer += text;
    if (this.buffer.length > 64 * 1024) return this.fail(new SmtpFailure('reply too long', null));
    let i;
    while ((i = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, i).replace(/\r$/, '');
      this.buffer = this.buffer.slice(i + 1);
      this.lines.push(line.slice(4));
      if (line[3] !== '-') {
        const reply = { code: Number(line.slice(0, 3)) || 0, lines: this.lines };
        this.lines = [];
        if (this.waiting) {
          const w = this.waiting;
          this.waiting = null;
          w(reply);
        } else this.replies.push(reply);
      }
    }
  }

  fail(err: Error) {
    this.failure ??= err;
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w(err);
    }
  }

  next(): Promise<Reply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiting = (r) => (r instanceof Error ? reject(r) : resolve(r));
    });
  }
}

/** RFC 5321 section 4.5.2: a leading dot is doubled; the message ends with CRLF.CRLF. */
export function dotStuff(raw: Buffer): Buffer {
  let text = raw.toString('latin1').replace(/(^|\n)\./g, '$1..');
  if (!text.endsWith('\r\n')) text += '\r\n';
  return Buffer.from(`${text}.\r\n`, 'latin1');
}

export interface SmtpResult {
  tls: boolean;
  /** The server's final reply to DATA. */
  reply: string;
}

export async function deliverSmtp(d: SmtpDelivery): Promise<SmtpResult> {
  const plain = createConnection({ host: d.host, port: d.port });
  let socket: Socket | TLSSocket = plain;
  const reader = new ReplyReader();
  reader.attach(plain);
  // An idle timeout, not a deadline: a large message may take long, a silent server may not.
  const idle = () =>
    reader.fail(new SmtpFailure(`no answer from ${d.host}:${d.port} in time`, null));
  plain.setTimeout(d.timeoutMs, idle);
  const send = (line: string) => socket.write(`${line}\r\n`);
  const expect = async (command: string | null, ok: number[]): Promise<Reply> => {
    if (command !== null) send(command);
    const reply = await reader.next();
    if (!ok.includes(reply.code)) {
      const what = command?.split(/[:\s]/)[0] ?? 'greeting';
      throw new SmtpFailure(`${what}: ${reply.code} ${reply.lines.join(' ')}`, reply.code);
    }
    return reply;
  };
  try {
    await expect(null, [220]);
    let ehlo = await expect(`EHLO ${d.helo}`, [250]);
    const offersTls = ehlo.lines.some((l) => /^STARTTLS\b/i.test(l));
    let secured = false;
    if (offersTls) {
      await expect('STARTTLS', [220]);
      const tls = await new Promise<TLSSocket>((resolve, reject) => {
        const s = tlsConnect({
          socket: plain,
          servername: d.tls.servername,
          ...(d.tls.ca ? { ca: d.tls.ca } : {}),
          // Checked below by the policy (DANE, MTA-STS's CAs, or nothing for opportunistic).
          rejectUnauthorized: false,
          minVersion: 'TLSv1.2',
        });
        s.once('secureConnect', () => resolve(s));
        s.once('error', reject);
      }).catch((err: Error) => {
        throw new SmtpFailure(`TLS handshake failed: ${err.message}`, null);
      });
      socket = tls;
      plain.setTimeout(0);
      tls.setTimeout(d.timeoutMs, idle);
      reader.attach(tls);
      const refused = d.tls.verify(tls, peerChain(tls));
      if (refused) throw new SmtpFailure(refused, null);
      secured = true;
      ehlo = await expect(`EHLO ${d.helo}`, [250]);
    } else if (d.tls.required) {
      throw new SmtpFailure('the server does not offer STARTTLS', null);
    }
    await expect(`MAIL FROM:<${d.from}>`, [250]);
    for (const rcpt of d.to) await expect(`RCPT TO:<${rcpt}>`, [250, 251]);
    await expect('DATA', [354]);
    socket.write(dotStuff(d.raw));
    const done = await expect(null, [250]);
    send('QUIT');
    return { tls: secured, reply: done.lines.join(' ') };
  } finally {
    socket.destroy();
    plain.destroy();
  }
}
