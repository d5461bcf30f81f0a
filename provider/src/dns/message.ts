/**
 * DNS messages for a stub resolver that trusts a validating resolver's AD bit (as Postfix
 * does for DANE): the query asks for DNSSEC (EDNS0 DO) and recursion; the answer is read
 * into one result with the status a mail relay needs to decide between "permanent",
 * "temporary" and "go on". Pure: no sockets here.
 */
import dnsPacket from 'dns-packet';

export type RecordType = 'A' | 'AAAA' | 'MX' | 'TLSA' | 'TXT' | 'CNAME';

export interface MxRecord {
  preference: number;
  exchange: string;
}

export interface TlsaRecord {
  usage: number;
  selector: number;
  matchingType: number;
  data: Buffer;
}

export interface RecordData {
  A: string;
  AAAA: string;
  MX: MxRecord;
  TLSA: TlsaRecord;
  TXT: string;
  CNAME: string;
}

/**
 * - `ok`: records of the type asked (possibly after CNAMEs).
 * - `nxdomain`: the name does not exist; `nodata`: it exists without records of the type.
 * - `servfail`: the resolver could not answer; a validating resolver also answers this for
 *   a bogus (failed-validation) answer, so it is never "no records".
 * - `error`: another rcode (REFUSED, FORMERR…) or a malformed answer; `timeout`: no answer.
 * `secure` is the AD bit: the validating resolver checked the whole answer with DNSSEC.
 */
export type DnsStatus = 'ok' | 'nxdomain' | 'nodata' | 'servfail' | 'error' | 'timeout';

export interface DnsResult<T extends RecordType = RecordType> {
  status: DnsStatus;
  secure: boolean;
  records: RecordData[T][];
  /** For people and logs: the rcode or what went wrong. */
  detail: string;
}

export function buildQuery(id: number, name: string, type: RecordType): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    additionals: [
      { type: 'OPT', name: '.', udpPayloadSize: 1232, flags: dnsPacket.DNSSEC_OK } as never,
    ],
  });
}

export function isTruncated(message: Buffer): boolean {
  return message.length >= 4 && (message.readUInt16BE(2) & dnsPacket.TRUNCATED_RESPONSE) !== 0;
}

export function messageId(message: Buffer): number {
  return message.length >= 2 ? message.readUInt16BE(0) : -1;
}

function txtString(data: unknown): string {
  const parts = Array.isArray(data) ? data : [data];
  return parts.map((p) => (Buffer.isBuffer(p) ? p.toString('utf8') : String(p))).join('');
}

function recordOf<T extends RecordType>(type: T, data: unknown): RecordData[T] {
  switch (type) {
    case 'MX': {
      const mx = data as { preference: number; exchange: string };
      return { preference: mx.preference, exchange: mx.exchange } as RecordData[T];
    }
    case 'TLSA': {
      const t = data as {
        usage: number;
        selector: number;
        matchingType: number;
        certificate: Buffer;
      };
      return {
        usage: t.usage,
        selector: t.selector,
        matchingType: t.matchingType,
        data: Buffer.from(t.certificate),
      } as RecordData[T];
    }
    case 'TXT':
      return txtString(data) as RecordData[T];
    default:
      return String(data) as RecordData[T];
  }
}

/** Reads a resolver's answer to the question (name, type) sent with `id`. */
export function parseAnswer<T extends RecordType>(
  message: Buffer,
  id: number,
  name: string,
  type: T,
): DnsResult<T> {
  let packet: dnsPacket.Packet;
  try {
    packet = dnsPacket.decode(message);
  } catch (err) {
    return {
      status: 'error',
      secure: false,
      records: [],
      detail: `malformed answer: ${(err as Error).message}`,
    };
  }
  const question = packet.questions?.[0];
  if (
    packet.id !== id ||
    !question ||
    question.type !== type ||
    question.name.toLowerCase() !== name.replace(/\.$/, '').toLowerCase()
  ) {
    return { status: 'error', secure: false, records: [], detail: 'answer to another question' };
  }
  const secure = ((packet.flags ?? 0) & dnsPacket.AUTHENTIC_DATA) !== 0;
  const rcode = (packet as { rcode?: string }).rcode ?? 'NOERROR';
  if (rcode === 'NXDOMAIN') return { status: 'nxdomain', secure, records: [], detail: rcode };
  if (rcode === 'SERVFAIL')
    return { status: 'servfail', secure: false, records: [], detail: rcode };
  if (rcode !== 'NOERROR') return { status: 'error', secure: false, records: [], detail: rcode };
  const records = (packet.answers ?? [])
    .filter((a) => a.type === type)
    .map((a) => recordOf(type, (a as { data: unknown }).data));
  return { status: records.length > 0 ? 'ok' : 'nodata', secure, records, detail: rcode };
}
