/**
 * UID sets (lists of inclusive ranges, `end` possibly Infinity) as an SQL condition on
 * `uid` plus a precise in-memory test. A few ranges become `uid BETWEEN` terms the index can
 * use; a long list (a client's explicit UID list) is bounded by its min and max in SQL and
 * filtered exactly in memory, keeping the statement small.
 */
import type { UidRange } from '../imap/index.js';

const MAX_SQL_RANGES = 32;

export interface RangeFilter {
  min: number;
  max: number;
  /** Condition on `uid`; exact when `exact`, else only a bound to refine with `contains`. */
  sql: string;
  params: number[];
  exact: boolean;
  contains(uid: number): boolean;
}

export function rangeFilter(ranges: readonly UidRange[], maxUid: number): RangeFilter | null {
  const merged = ranges
    .map((r) => ({
      start: Math.max(1, Math.min(r.start, r.end)),
      end: Math.min(maxUid, Math.max(r.start, r.end)),
    }))
    .filter((r) => r.start <= r.end)
    .sort((a, b) => a.start - b.start)
    .reduce<{ start: number; end: number }[]>((out, r) => {
      const last = out.at(-1);
      if (last && r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
      else out.push({ ...r });
      return out;
    }, []);
  if (!merged.length) return null;
  const contains = (uid: number) => {
    let lo = 0;
    let hi = merged.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const r = merged[mid]!;
      if (uid < r.start) hi = mid - 1;
      else if (uid > r.end) lo = mid + 1;
      else return true;
    }
    return false;
  };
  const small = merged.length <= MAX_SQL_RANGES;
  return {
    min: merged[0]!.start,
    max: merged.at(-1)!.end,
    exact: small,
    sql: small ? merged.map(() => 'uid BETWEEN ? AND ?').join(' OR ') : '1',
    params: small ? merged.flatMap((r) => [r.start, r.end]) : [],
    contains,
  };
}
