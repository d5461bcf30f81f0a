/**
 * RFC 5322 / RFC 2045 header parsing: just enough for ENVELOPE and BODYSTRUCTURE. Values are
 * kept raw (encoded words untouched) because RFC 3501 wants them that way.
 */
import type { BodyParams, EnvelopeAddress } from './types.js';

export interface HeaderField {
  /** Lower-case field name. */
  name: string;
  /** Unfolded value, surrounding whitespace trimmed. */
  value: string;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

/** 8-bit header bytes: UTF-8 when valid (the common case today), else Latin-1 so no byte is lost. */
export function decodeHeaderBytes(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    return latin1.decode(bytes);
  }
}

export function parseHeaderFields(text: string): HeaderField[] {
  const fields: HeaderField[] = [];
  let current: string | null = null;
  const flush = () => {
    if (current === null) return;
    const colon = current.indexOf(':');
    if (colon > 0) {
      const name = current.slice(0, colon).trim().toLowerCase();
      if (name && !/[\s]/.test(name)) {
        fields.push({ name, value: current.slice(colon + 1).trim() });
      }
    }
    current = null;
  };
  for (const rawLine of text.split(/\r?\n/)) {
    if (rawLine === '') continue;
    if ((rawLine[0] === ' ' || rawLine[0] === '\t') && current !== null) {
      // Unfolding removes the CRLF only; the folding whitespace stays (RFC 5322 2.2.3).
      current += rawLine;
    } else {
      flush();
      current = rawLine;
    }
  }
  flush();
  return fields;
}

export function firstField(fields: HeaderField[], name: string): string | null {
  for (const f of fields) if (f.name === name) return f.value;
  return null;
}

/** Removes RFC 5322 comments outside quoted strings. */
function stripComments(value: string): string {
  let out = '';
  let depth = 0;
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c === '\\' && (quoted || depth > 0)) {
      if (depth === 0) out += c + (value[i + 1] ?? '');
      i++;
      continue;
    }
    if (depth === 0 && c === '"') quoted = !quoted;
    if (!quoted) {
      if (c === '(') {
        depth++;
        continue;
      }
      if (c === ')' && depth > 0) {
        depth--;
        continue;
      }
    }
    if (depth === 0) out += c;
  }
  return out;
}

function unquote(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) {
    return v.slice(1, -1).replace(/\\(.)/g, '$1');
  }
  return v;
}

/** Splits on `sep` outside quoted strings (comments already removed). */
function splitOutsideQuotes(value: string, sep: string): string[] {
  const parts: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && quoted) {
      i++;
      continue;
    }
    if (c === '"') quoted = !quoted;
    else if (c === sep && !quoted) {
      parts.push(value.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(value.slice(start));
  return parts;
}

export interface ContentType {
  type: string;
  subtype: string;
  params: BodyParams;
}

/** `value; a=b; c="d"` → value and parameters in header order. */
export function parseParameterized(raw: string): { value: string; params: BodyParams } {
  const [head = '', ...rest] = splitOutsideQuotes(stripComments(raw), ';');
  const params: [string, string][] = [];
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq <= 0) continue;
    const name = p.slice(0, eq).trim();
    if (!name) continue;
    params.push([name, unquote(p.slice(eq + 1))]);
  }
  return { value: head.trim(), params: params.length ? params : null };
}

export function parseContentType(raw: string | null, fallback: string): ContentType {
  const parsed = raw === null ? null : parseParameterized(raw);
  const match = parsed?.value
    .toLowerCase()
    .match(/^([!#$%&'*+.^_`|~0-9a-z-]+)\/([!#$%&'*+.^_`|~0-9a-z-]+)$/);
  if (!parsed || !match) {
    // A missing or unparsable Content-Type means the default (RFC 2045 5.2), with the
    // charset of the default only when none was given at all.
    const [type = 'text', subtype = 'plain'] = fallback.split('/');
    const params: BodyParams =
      parsed?.params ?? (type === 'text' ? [['charset', 'us-ascii']] : null);
    return { type, subtype, params };
  }
  const type = match[1]!;
  // A text part without a charset is US-ASCII (RFC 2045 5.2); say so, as Dovecot does.
  if (type === 'text' && !parsed.params?.some(([k]) => k.toLowerCase() === 'charset')) {
    return {
      type,
      subtype: match[2]!,
      params: [...(parsed.params ?? []), ['charset', 'us-ascii']],
    };
  }
  return { type, subtype: match[2]!, params: parsed.params };
}

/** Parses an RFC 5322 address-list into ENVELOPE addresses (groups as RFC 3501 encodes them). */
export function parseAddressList(raw: string | null): EnvelopeAddress[] | null {
  if (raw === null) return null;
  const tokens = tokenizeAddresses(raw);
  const out: EnvelopeAddress[] = [];
  let i = 0;
  // Each entry: either a group "display-name: mailbox-list ;" or a mailbox.
  while (i < tokens.length) {
    const groupColon = findGroupColon(tokens, i);
    if (groupColon >= 0) {
      out.push({
        name: null,
        adl: null,
        mailbox: phraseText(tokens.slice(i, groupColon)),
        host: null,
      });
      i = groupColon + 1;
      while (i < tokens.length && tokens[i]!.kind !== ';') {
        i = parseMailbox(tokens, i, out, true);
      }
      out.push({ name: null, adl: null, mailbox: null, host: null });
      i++;
      if (tokens[i]?.kind === ',') i++;
    } else {
      i = parseMailbox(tokens, i, out, false);
    }
  }
  return out.length ? out : null;
}

type Token = {
  kind: 'word' | 'quoted' | 'angle' | 'comment' | ',' | ':' | ';' | '@';
  text: string;
};

/**
 * Comments are kept as tokens: one after a bare addr-spec is its display name, as Dovecot
 * reads `user@domain (Real Name)`; elsewhere they are dropped.
 */
function tokenizeAddresses(s: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n') {
      i++;
    } else if (c === '(') {
      let depth = 0;
      let text = '';
      let j = i;
      for (; j < s.length; j++) {
        const d = s[j]!;
        if (d === '\\' && j + 1 < s.length) {
          text += s[++j];
          continue;
        }
        if (d === '(' && depth++ === 0) continue;
        if (d === ')' && --depth === 0) break;
        text += d;
      }
      tokens.push({ kind: 'comment', text: text.trim() });
      i = j + 1;
    } else if (c === '"') {
      let j = i + 1;
      let text = '';
      while (j < s.length && s[j] !== '"') {
        if (s[j] === '\\' && j + 1 < s.length) j++;
        text += s[j];
        j++;
      }
      tokens.push({ kind: 'quoted', text });
      i = j + 1;
    } else if (c === '<') {
      const j = s.indexOf('>', i);
      const end = j < 0 ? s.length : j;
      tokens.push({ kind: 'angle', text: stripComments(s.slice(i + 1, end)).trim() });
      i = end + 1;
    } else if (c === ',' || c === ':' || c === ';' || c === '@') {
      tokens.push({ kind: c, text: c });
      i++;
    } else {
      let j = i;
      while (j < s.length && !' \t\r\n",:;<@('.includes(s[j]!)) j++;
      tokens.push({ kind: 'word', text: s.slice(i, j) });
      i = j;
    }
  }
  return tokens;
}

/** A ':' before any ',' '<' or '@' at this position starts a group. */
function findGroupColon(tokens: Token[], start: number): number {
  for (let i = start; i < tokens.length; i++) {
    const k = tokens[i]!.kind;
    if (k === ':') return i;
    if (k !== 'word' && k !== 'quoted' && k !== 'comment') return -1;
  }
  return -1;
}

function phraseText(tokens: Token[]): string | null {
  const t = tokens
    .filter((x) => x.kind === 'word' || x.kind === 'quoted')
    .map((x) => x.text)
    .join(' ');
  return t === '' ? null : t;
}

function splitAddrSpec(spec: string): {
  mailbox: string | null;
  host: string | null;
  adl: string | null;
} {
  let s = spec;
  let adl: string | null = null;
  // Obsolete source route "@a,@b:user@host" goes in the adl field.
  const route = s.match(/^(@[^:]*):(.*)$/);
  if (route) {
    adl = route[1]!.replace(/\s+/g, '');
    s = route[2]!;
  }
  const at = s.lastIndexOf('@');
  if (at < 0) return { mailbox: s === '' ? null : unquoteLocal(s), host: null, adl };
  return { mailbox: unquoteLocal(s.slice(0, at)), host: s.slice(at + 1).trim() || null, adl };
}

function unquoteLocal(local: string): string {
  return unquote(local.trim());
}

/** Parses one mailbox starting at tokens[i], pushes it, returns the index after it (and its comma). */
function parseMailbox(
  tokens: Token[],
  start: number,
  out: EnvelopeAddress[],
  inGroup: boolean,
): number {
  let i = start;
  const phrase: Token[] = [];
  let spec = '';
  let comment: string | null = null;
  while (i < tokens.length) {
    const t = tokens[i]!;
    if (t.kind === ',' || (inGroup && t.kind === ';')) break;
    if (t.kind === 'comment') {
      // Only a comment after the address names it; one before it does not (Dovecot agrees).
      if (t.text && phrase.length) comment = t.text;
      i++;
      continue;
    }
    if (t.kind === 'angle') {
      spec = t.text;
      i++;
      // Anything after the angle address up to the comma is ignored.
      while (i < tokens.length && tokens[i]!.kind !== ',' && !(inGroup && tokens[i]!.kind === ';'))
        i++;
      break;
    }
    phrase.push(t);
    i++;
  }
  if (spec === '' && phrase.length) {
    // Bare addr-spec: join the tokens back (local "@" domain).
    spec = phrase.map((t) => (t.kind === 'quoted' ? `"${t.text}"` : t.text)).join('');
    phrase.length = 0;
    if (comment !== null) phrase.push({ kind: 'word', text: comment });
  }
  if (spec !== '' || phrase.length) {
    const { mailbox, host, adl } = splitAddrSpec(spec);
    out.push({ name: phraseText(phrase), adl, mailbox, host });
  }
  if (tokens[i]?.kind === ',') i++;
  return i;
}
