/**
 * What a cached verdict or principal holds, in bytes, for caches bounded by bytes as well as
 * entries (docs/design.md#memory). An estimate, cheap enough for every insert: strings at two
 * bytes a character (V8 may keep them as UTF-16) and a fixed overhead per entry for the objects,
 * the cache's own bookkeeping and the key.
 */
export const ENTRY_OVERHEAD_BYTES = 320;

/** Two bytes a character, and 16 bytes of header, for every string. */
export function stringBytes(s: string | undefined): number {
  return s === undefined ? 0 : 16 + 2 * s.length;
}

export function stringsBytes(xs: readonly string[] | undefined): number {
  if (xs === undefined) return 0;
  let n = 16 + 8 * xs.length;
  for (const x of xs) n += stringBytes(x);
  return n;
}
