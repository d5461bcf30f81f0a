/**
 * A Map used as a least-recently-written cache: writing a key moves it to the end, and past
 * `max` entries the oldest go. Every per-client table of the limiters is one of these, so a
 * flood of distinct clients costs bounded memory (and pushes out only the stalest records).
 */
export function writeBounded<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next();
    if (oldest.done) break;
    map.delete(oldest.value);
  }
}
