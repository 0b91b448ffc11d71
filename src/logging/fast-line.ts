/**
 * The hot path of logging (issue 15.2): a flat line — the access line and the audit line of
 * every request — serialised by hand instead of through winston's per-line format pipeline, with
 * the same result: every string value scrubbed and capped as the masker does, keys in the same
 * (sorted) order, the same `level`, `message`, `service` and `timestamp` fields. To the
 * process's stdout, lines are written in one batch per event-loop turn (one write for all the
 * requests a turn finished); to a stream the caller gave, as they are logged, so that the caller
 * reads them at once. Anything that is not flat (errors, nested objects) still goes through
 * winston, after the batch pending so far, so lines keep their order.
 */
import type { Writable } from 'node:stream';
import { capLength, type Scrubber } from './mask';

/**
 * Whether every field is a primitive (what the fast path serialises). Lists and objects go
 * through the deep masker, whose rules for them (a raw header list, sensitive keys) it keeps.
 */
export function isFlat(fields: Readonly<Record<string, unknown>>): boolean {
  for (const key in fields) {
    const v = fields[key];
    if (v === null || v === undefined) continue;
    const t = typeof v;
    if (t === 'string' || t === 'boolean') continue;
    if (t === 'number') {
      if (!Number.isFinite(v as number)) return false;
      continue;
    }
    return false;
  }
  return true;
}

/** Keys every line has (request_id defaults to null, as the winston path writes it). */
const FIXED = ['request_id', 'level', 'message', 'timestamp'] as const;
const MAX_SHAPES = 256;

export class FastLineWriter {
  private pending: string[] = [];
  private scheduled = false;

  constructor(
    private readonly stream: Pick<Writable, 'write'>,
    private readonly scrub: Scrubber,
    private readonly meta: Readonly<Record<string, string>>,
    /** One write per event-loop turn instead of one per line. */
    private readonly batch: boolean,
  ) {}

  private str(value: string): string {
    return JSON.stringify(capLength(this.scrub(value)));
  }

  /** Sorted keys (each with its quoted form) per field shape: sorted once, not per line. */
  private readonly shapes = new Map<string, ReadonlyArray<readonly [string, string]>>();

  private shape(
    fields: Readonly<Record<string, unknown>>,
  ): ReadonlyArray<readonly [string, string]> {
    let id = '';
    for (const key in fields) id += `${key}\u0000`;
    let keys = this.shapes.get(id);
    if (!keys) {
      const names = new Set([...Object.keys(fields), ...Object.keys(this.meta), ...FIXED]);
      keys = [...names].sort().map((k) => [k, `${JSON.stringify(k)}:`] as const);
      if (this.shapes.size < MAX_SHAPES) this.shapes.set(id, keys);
    }
    return keys;
  }

  /** One JSON line, as winston with the masking format would have written it. */
  serialize(level: string, message: string, fields: Readonly<Record<string, unknown>>): string {
    const timestamp = new Date().toISOString();
    let out = '{';
    for (const [key, quoted] of this.shape(fields)) {
      let v: unknown;
      if (key === 'level') v = level;
      else if (key === 'message') v = message;
      else if (key === 'timestamp') v = timestamp;
      else if (key in this.meta) v = this.meta[key];
      else v = key in fields ? fields[key] : key === 'request_id' ? null : undefined;
      if (v === undefined) continue;
      const json =
        typeof v === 'string' && key !== 'level' && key !== 'timestamp'
          ? this.str(v)
          : JSON.stringify(v);
      out += out.length > 1 ? `,${quoted}${json}` : `${quoted}${json}`;
    }
    return `${out}}\n`;
  }

  write(level: string, message: string, fields: Readonly<Record<string, unknown>>): void {
    const line = this.serialize(level, message, fields);
    if (!this.batch) {
      this.stream.write(line);
      return;
    }
    this.pending.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes what is pending now (also at exit and before a shutdown completes). */
  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    this.stream.write(chunk);
  }
}
