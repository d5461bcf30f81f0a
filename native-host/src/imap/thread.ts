/**
 * THREAD (RFC 5256): ORDEREDSUBJECT and REFERENCES (the JWZ algorithm of RFC 5256 section
 * 3, steps 1-6), over the envelope fields and the References header; pure functions, the
 * command fetches and sends.
 */
import { baseSubject, sentTime, subjectKey, type SortItem } from './sort.js';

export type ThreadAlgorithm = 'ORDEREDSUBJECT' | 'REFERENCES';
export const THREAD_ALGORITHMS: ReadonlySet<string> = new Set(['ORDEREDSUBJECT', 'REFERENCES']);

export interface ThreadItem extends SortItem {
  /** Message IDs of the References header in order (with angle brackets), or []. */
  references: string[];
}

/** A thread node; `item` is null for a dummy (a message referred to but not in the set). */
interface Node {
  item: ThreadItem | null;
  parent: Node | null;
  children: Node[];
  /** Sent time and UID for sorting: a dummy takes its first child's. */
  time: number;
  uid: number;
}

const node = (item: ThreadItem | null): Node => ({
  item,
  parent: null,
  children: [],
  time: item ? sentTime(item) : 0,
  uid: item?.uid ?? 0,
});

/** The message IDs in a header value: `<...>` tokens, whitespace inside dropped. */
export function messageIds(value: string | null | undefined): string[] {
  if (!value) return [];
  const ids: string[] = [];
  for (const m of value.matchAll(/<([^<>]*)>/g)) {
    const id = m[1]!.replace(/\s+/g, '');
    if (id) ids.push(`<${id}>`);
  }
  return ids;
}

function link(parent: Node, child: Node): void {
  child.parent = parent;
  parent.children.push(child);
}

function unlink(child: Node): void {
  const parent = child.parent;
  if (!parent) return;
  parent.children = parent.children.filter((c) => c !== child);
  child.parent = null;
}

/** Whether `a` is `b` or one of its ancestors: linking b → a would make a loop. */
function isAncestorOrSelf(a: Node, b: Node): boolean {
  for (let n: Node | null = b; n; n = n.parent) if (n === a) return true;
  return false;
}

/** Sorts siblings by sent date (ties: mailbox order), children first so dummies have a date. */
function sortByDate(nodes: Node[]): void {
  for (const n of nodes) {
    sortByDate(n.children);
    if (!n.item && n.children.length) {
      n.time = n.children[0]!.time;
      n.uid = n.children[0]!.uid;
    }
  }
  nodes.sort((a, b) => a.time - b.time || a.uid - b.uid);
}

/** Step 4: dummies without children go, and with children give them to their parent. */
function prune(nodes: Node[], atRoot: boolean): Node[] {
  const out: Node[] = [];
  for (const n of nodes) {
    n.children = prune(n.children, false);
    for (const c of n.children) c.parent = n;
    if (!n.item) {
      if (!n.children.length) continue;
      // A dummy at the top stays when it holds several threads together.
      if (!atRoot || n.children.length === 1) {
        for (const c of n.children) c.parent = n.parent;
        out.push(...n.children);
        continue;
      }
    }
    out.push(n);
  }
  return out;
}

function subjectOf(n: Node): { key: string; reply: boolean } {
  const item = n.item ?? n.children[0]?.item ?? null;
  const subject = item?.envelope.subject ?? null;
  return { key: subjectKey(subject), reply: baseSubject(subject).reply };
}

/** Step 5: top-level threads with the same base subject are gathered together. */
function gatherBySubject(roots: Node[]): Node[] {
  const table = new Map<string, Node>();
  for (const n of roots) {
    const { key, reply } = subjectOf(n);
    if (!key) continue;
    const old = table.get(key);
    if (!old) table.set(key, n);
    else if (old.item && (!n.item || (subjectOf(old).reply && !reply))) table.set(key, n);
  }
  let out = [...roots];
  for (const n of roots) {
    const { key, reply } = subjectOf(n);
    const kept = key ? table.get(key) : undefined;
    if (!kept || kept === n || !out.includes(n)) continue;
    if (!kept.item && !n.item) {
      for (const c of n.children) link(kept, c);
      n.children = [];
      out = out.filter((r) => r !== n);
    } else if (!kept.item || (reply && !subjectOf(kept).reply)) {
      link(kept, n);
      out = out.filter((r) => r !== n);
    } else {
      const dummy = node(null);
      link(dummy, kept);
      link(dummy, n);
      out = out.filter((r) => r !== n && r !== kept);
      out.push(dummy);
      table.set(key, dummy);
    }
  }
  return out;
}

/** RFC 5256 REFERENCES. */
function referencesThreads(items: ThreadItem[]): Node[] {
  const byId = new Map<string, Node>();
  const all: Node[] = [];
  const container = (id: string): Node => {
    let n = byId.get(id);
    if (!n) {
      n = node(null);
      byId.set(id, n);
      all.push(n);
    }
    return n;
  };
  for (const item of items) {
    // (1A) A message ID seen before as a reference gets its message; a duplicate or a
    // missing one is a message of its own.
    const id = messageIds(item.envelope.messageId)[0];
    let self: Node;
    const known = id ? byId.get(id) : undefined;
    if (known && !known.item) {
      known.item = item;
      known.time = sentTime(item);
      known.uid = item.uid;
      self = known;
    } else {
      self = node(item);
      all.push(self);
      if (id && !known) byId.set(id, self);
    }
    // (1B) The references link each to the next, unless already linked or a loop.
    const refs = item.references.length
      ? item.references
      : messageIds(item.envelope.inReplyTo).slice(0, 1);
    let previous: Node | null = null;
    for (const ref of refs) {
      const r = container(ref);
      if (previous && !r.parent && !isAncestorOrSelf(r, previous)) link(previous, r);
      previous = r;
    }
    // (1C) The last reference is the parent, replacing a parent from a truncated chain.
    unlink(self);
    if (previous && !isAncestorOrSelf(self, previous)) link(previous, self);
  }
  // (2)-(4) The root set, pruned.
  const roots = prune(
    all.filter((n) => !n.parent),
    true,
  );
  for (const r of roots) r.parent = null;
  sortByDate(roots);
  const gathered = gatherBySubject(roots);
  // (6) Every set of siblings by sent date.
  sortByDate(gathered);
  return gathered;
}

/** RFC 5256 ORDEREDSUBJECT: one thread per base subject, its first message the parent of the rest. */
function orderedSubjectThreads(items: ThreadItem[]): Node[] {
  const keyed = items.map((item) => ({
    item,
    key: subjectKey(item.envelope.subject),
    time: sentTime(item),
  }));
  keyed.sort(
    (a, b) =>
      (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) || a.time - b.time || a.item.uid - b.item.uid,
  );
  const roots: Node[] = [];
  let current: { key: string; root: Node } | null = null;
  for (const k of keyed) {
    const n = node(k.item);
    if (current && current.key === k.key) link(current.root, n);
    else {
      current = { key: k.key, root: n };
      roots.push(n);
    }
  }
  roots.sort((a, b) => a.time - b.time || a.uid - b.uid);
  return roots;
}

/** RFC 5256 thread-list for one node: a chain of single children inline, branches nested. */
function encode(n: Node, id: (uid: number) => number): string {
  if (!n.item) return n.children.map((c) => `(${encode(c, id)})`).join('');
  let out = String(id(n.item.uid));
  let cur = n;
  while (cur.children.length === 1 && cur.children[0]!.item) {
    cur = cur.children[0]!;
    out += ` ${id(cur.item!.uid)}`;
  }
  if (cur.children.length) out += ' ' + cur.children.map((c) => `(${encode(c, id)})`).join('');
  return out;
}

/** The THREAD response's data: `(1 2)(3 (4)(5))`, with `id` giving each UID's number. */
export function threads(
  algorithm: ThreadAlgorithm,
  items: ThreadItem[],
  id: (uid: number) => number,
): string {
  const sorted = [...items].sort((a, b) => a.uid - b.uid);
  const roots =
    algorithm === 'REFERENCES' ? referencesThreads(sorted) : orderedSubjectThreads(sorted);
  return roots.map((r) => `(${encode(r, id)})`).join('');
}
