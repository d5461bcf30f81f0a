/**
 * Mailbox names on the wire are modified UTF-7 (RFC 3501 5.1.3); names in the store are
 * Unicode. A name that is not valid modified UTF-7 is taken as it is, so nothing a client
 * sends is lost.
 */

export function encodeMailboxName(name: string): string {
  let out = '';
  let pending = '';
  const flush = () => {
    if (!pending) return;
    const utf16 = Buffer.alloc(pending.length * 2);
    for (let i = 0; i < pending.length; i++) utf16.writeUInt16BE(pending.charCodeAt(i), i * 2);
    out += '&' + utf16.toString('base64').replace(/=+$/, '').replace(/\//g, ',') + '-';
    pending = '';
  };
  for (const ch of name) {
    const code = ch.charCodeAt(0);
    if (code >= 0x20 && code <= 0x7e) {
      flush();
      out += ch === '&' ? '&-' : ch;
    } else {
      pending += ch;
    }
  }
  flush();
  return out;
}

export function decodeMailboxName(wire: string): string {
  if (!wire.includes('&')) return wire;
  let out = '';
  for (let i = 0; i < wire.length; i++) {
    const ch = wire[i]!;
    if (ch !== '&') {
      out += ch;
      continue;
    }
    const end = wire.indexOf('-', i + 1);
    if (end < 0) return wire;
    const b64 = wire.slice(i + 1, end);
    if (b64 === '') {
      out += '&';
    } else {
      if (!/^[A-Za-z0-9+,]+$/.test(b64)) return wire;
      const bytes = Buffer.from(b64.replace(/,/g, '/'), 'base64');
      if (bytes.length % 2 !== 0) return wire;
      for (let j = 0; j < bytes.length; j += 2) out += String.fromCharCode(bytes.readUInt16BE(j));
    }
    i = end;
  }
  return out;
}
