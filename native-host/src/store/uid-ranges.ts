/**
 * UID sets (lists of inclusive ranges, `end` possibly Infinity, ends possibly reversed as
 * IMAP allows) normalised to sorted, disjoint ranges. Callers walk the ranges one by one
 * with an index seek each: a single statement mixing the ranges with a paging bound lets
 * SQLite pick the wrong bound and rescan from the start on every page.
 */
import type { UidRange } from '../imap/index.js';

/** Beyond this many ranges a SEARCH key is left to the server's evaluator. */
const MAX_SQL_RANGES = 32;

export function mergeRanges(ranges: readonly UidRange[], maxUid: number): UidRange[] {
  return ranges
    .map((r) => ({
      start: Math.max(1, Math.min(r.start, r.end)),
      end: Math.min(maxUid, Math.max(r.start, r.end)),
    }))
    .filter((r) => r.start <= r.end)
    .sort((a, b) => a.start - b.start)
    .reduce<UidRange[]>((out, r) => {
      const last = out.at(-1);
      if (last && r.start <= last.end + 1) last.end = Math.max(last.end, r.end);
      else out.push({ ...r });
      return out;
    }, []);
}

/** The set as an SQL condition on `uid`, or null when it has too many ranges for one. */
export function rangesSql(
  ranges: readonly UidRange[],
  maxUid: number,
): { sql: string; params: number[] } | null {
  const merged = mergeRanges(ranges, maxUid);
  if (merged.length === 0) return { sql: '0', params: [] };
  if (merged.length > MAX_SQL_RANGES) return null;
  return {
    sql: merged.map(() => '(uid BETWEEN ? AND ?)').join(' OR '),
    params: merged.flatMap((r) => [r.start, r.end]),
  };
}
