/**
 * "did you mean" for unknown config keys: the keys a schema knows at a path (walking objects,
 * lists, records and the optional/default wrappers), and the nearest one by edit distance.
 */
import type { z } from 'zod';

interface Def {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  options?: z.ZodType[];
  valueType?: z.ZodType;
}

const defOf = (schema: z.ZodType): Def => (schema as unknown as { def: Def }).def;

/** Unwraps optional, default, prefault, nullable, pipes and unions down to an object. */
function objectsOf(schema: z.ZodType): Array<Record<string, z.ZodType>> {
  const def = defOf(schema);
  if (def.type === 'object' && def.shape) return [def.shape];
  if (def.innerType) return objectsOf(def.innerType);
  if (def.type === 'pipe' && def.in) return objectsOf(def.in);
  if (def.type === 'union' && def.options) return def.options.flatMap(objectsOf);
  return [];
}

function child(schema: z.ZodType, segment: string | number): z.ZodType | undefined {
  const def = defOf(schema);
  if (def.innerType) return child(def.innerType, segment);
  if (def.type === 'pipe' && def.in) return child(def.in, segment);
  if (def.type === 'array' && def.element) return def.element;
  if (def.type === 'record' && def.valueType) return def.valueType;
  if (def.type === 'union' && def.options) {
    for (const o of def.options) {
      const c = child(o, segment);
      if (c) return c;
    }
    return undefined;
  }
  return typeof segment === 'string' ? objectsOf(schema)[0]?.[segment] : undefined;
}

export function knownKeysAt(schema: z.ZodType, path: ReadonlyArray<string | number>): string[] {
  let at: z.ZodType | undefined = schema;
  for (const segment of path) {
    at = at && child(at, segment);
    if (!at) return [];
  }
  return at ? objectsOf(at).flatMap((shape) => Object.keys(shape)) : [];
}

/** Edit distance (optimal string alignment: a swap of two neighbours is one edit), case-insensitive. */
export function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  const d: number[][] = Array.from({ length: x.length + 1 }, (_, i) =>
    Array.from({ length: y.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const row = d[i]!;
      row[j] = Math.min(
        d[i - 1]![j]! + 1,
        row[j - 1]! + 1,
        d[i - 1]![j - 1]! + (x[i - 1] === y[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1])
        row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[x.length]![y.length]!;
}

/** The known key nearest to `key`, when it is within a third of its length (at least 1, at most 3). */
export function closestKey(key: string, known: readonly string[]): string | undefined {
  const limit = Math.min(3, Math.max(1, Math.floor(key.length / 3)));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = editDistance(key, k);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return bestDistance <= limit ? best : undefined;
}
