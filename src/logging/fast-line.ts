/**
 * The hot path of logging: a flat line — the access line and the audit line of
 * every request — serialised by hand instead of through winston's per-line format pipeline, with
 * the same result: every string value scrubbed and capped as the masker does, keys in the same
 * (sorted) order, the same `level`, `message`, `service` and `timestamp` fields. To the
 * process's stdout, lines are written in one batch per event-loop turn (through stdout.ts, in
 * whole lines that never tear); to a stream the caller gave, as they are logged, so that the caller
 * reads them at once. Anything that is not flat (errors, nested objects) still goes through
 * winston, after the batch pending so far, so lines keep their order.
 */
import type { Writable } from 'node:stream';
import { capLength, type Scrubber } from './mask';

/**
 * Whether every field is a primitive (what the fast path serialises). Lists and objects go
 * through the deep masker, whose rules for them (a raw header list, sensitive keys) it keeps.
 */
/** Whether `fields` has exactly `keys`, in that order (no allocation). */
function sameKeys(keys: readonly string[], fields: Readonly<Record<string, unknown>>): boolean {
  let i = 0;
  for (const key in fields) {
    if (keys[i] !== key) return false;
    i += 1;
  }
  return i === keys.length;
}

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

/**
 * A finite number as JSON writes it. Durations are rounded to the microsecond (`x.yyy` ms), and
 * V8's shortest-round-trip formatting of such a double is the costliest part of a line; for a
 * value that is exactly the double nearest k/1000 the shortest form is k/1000's decimals without
 * trailing zeros (a decimal of at most 15 significant digits names one double), built here from
 * integers. Anything else takes String(), which is what JSON writes for a finite number.
 */
export function jsonNumber(v: number): string {
  if (Number.isInteger(v)) return String(v);
  const k = Math.round(v * 1000);
  if (k / 1000 !== v || k > 1e14 || k < -1e14) return String(v);
  const abs = k < 0 ? -k : k;
  const whole = Math.floor(abs / 1000);
  let frac = abs - whole * 1000;
  let digits = 3;
  while (frac % 10 === 0) {
    frac /= 10;
    digits -= 1;
  }
  // frac is not 0 (v is not an integer); `digits` of them after the point, zeros in front.
  const decimals = String(frac).padStart(digits, '0');
  return `${k < 0 ? '-' : ''}${whole}.${decimals}`;
}

/** Keys every line has (request_id defaults to null, as the winston path writes it). */
const FIXED = ['request_id', 'level', 'message', 'timestamp'] as const;
const MAX_SHAPES = 256;

const LEVEL = 0;
const MESSAGE = 1;
const TIMESTAMP = 2;
const CONSTANT = 3;
const FIELD = 4;
const REQUEST_ID = 5;

/** One key of a line, in output order: what it is, and `,"key":` (or the constant pair). */
interface Slot {
  readonly kind: number;
  readonly key: string;
  readonly prefix: string;
  /**
   * The last string written here and its `,"key":"value"` (scrubbed, capped, quoted): a route,
   * method, path, user or decision repeats from line to line, and is then not scrubbed again.
   */
  lastIn?: string;
  lastOut?: string;
}

/** The keys of one field set, in the caller's order (to recognise it) and sorted (to write). */
interface Shape {
  readonly keys: readonly string[];
  readonly slots: readonly Slot[];
  /** No key names a secret (those lines go through the deep masker): decided once per shape. */
  readonly fast: boolean;
}

export class FastLineWriter {
  private pending: string[] = [];
  private scheduled = false;
  /** Shapes by message: the access and audit lines each keep one shape. */
  private readonly shapes = new Map<string, Shape[]>();
  private shapeCount = 0;
  private readonly fieldSlots = new Map<string, Slot>();

  constructor(
    private readonly stream: Pick<Writable, 'write'>,
    private readonly scrub: Scrubber,
    private readonly meta: Readonly<Record<string, string>>,
    /** One write per event-loop turn instead of one per line. */
    private readonly batch: boolean,
    /** Key names whose lines must take the deep masker instead (a secret-sounding name). */
    private readonly sensitive: (key: string) => boolean = () => false,
  ) {}

  private lastMs = -1;
  private lastIso = '';

  /** The ISO timestamp, formatted once per millisecond (lines of one ms share it). */
  private timestamp(): string {
    const now = Date.now();
    if (now !== this.lastMs) {
      this.lastMs = now;
      this.lastIso = new Date(now).toISOString();
    }
    return this.lastIso;
  }

  private str(value: string): string {
    return JSON.stringify(capLength(this.scrub(value)));
  }

  /** `,"key":value` for a string, from the slot's last one when it is the same string. */
  private memo(slot: Slot, value: string, scrub: boolean): string {
    if (value !== slot.lastIn) {
      slot.lastIn = value;
      slot.lastOut = slot.prefix + (scrub ? this.str(value) : JSON.stringify(value));
    }
    return slot.lastOut as string;
  }

  /** The sorted slots of a field set: computed once per shape, not per line. */
  private shape(message: string, fields: Readonly<Record<string, unknown>>): Shape {
    const known = this.shapes.get(message);
    if (known) {
      for (const shape of known) if (sameKeys(shape.keys, fields)) return shape;
    }
    const keys = Object.keys(fields);
    const names = new Set([...keys, ...Object.keys(this.meta), ...FIXED]);
    const slots = [...names].sort().map((key): Slot => {
      const quoted = `,${JSON.stringify(key)}:`;
      if (key === 'level') return { kind: LEVEL, key, prefix: quoted };
      if (key === 'message') return { kind: MESSAGE, key, prefix: quoted };
      if (key === 'timestamp') return { kind: TIMESTAMP, key, prefix: quoted };
      if (Object.hasOwn(this.meta, key)) {
        return { kind: CONSTANT, key, prefix: quoted + this.str(this.meta[key] as string) };
      }
      // request_id absent → null, as winston's path writes it (present but undefined → left out).
      if (key === 'request_id' && !keys.includes(key))
        return { kind: REQUEST_ID, key, prefix: quoted };
      // One slot per key across shapes: the access and audit lines share their memos.
      let slot = this.fieldSlots.get(key);
      if (!slot) {
        slot = { kind: FIELD, key, prefix: quoted };
        if (this.fieldSlots.size < MAX_SHAPES * 4) this.fieldSlots.set(key, slot);
      }
      return slot;
    });
    const shape = { keys, slots, fast: !keys.some((key) => this.sensitive(key)) };
    if (this.shapeCount < MAX_SHAPES) {
      this.shapeCount += 1;
      if (known) known.push(shape);
      else this.shapes.set(message, [shape]);
    }
    return shape;
  }

  /** One JSON line, as winston with the masking format would have written it. */
  serialize(level: string, message: string, fields: Readonly<Record<string, unknown>>): string {
    return this.line(this.shape(message, fields), level, message, fields);
  }

  private line(
    shape: Shape,
    level: string,
    message: string,
    fields: Readonly<Record<string, unknown>>,
  ): string {
    let out = '';
    for (const slot of shape.slots) {
      switch (slot.kind) {
        case CONSTANT:
          out += slot.prefix;
          break;
        case LEVEL:
          out += this.memo(slot, level, false);
          break;
        case MESSAGE:
          out += this.memo(slot, message, true);
          break;
        case TIMESTAMP:
          out += `${slot.prefix}"${this.timestamp()}"`;
          break;
        case REQUEST_ID:
          out += `${slot.prefix}null`;
          break;
        default: {
          const v = fields[slot.key];
          if (v === undefined) break;
          if (typeof v === 'string') out += this.memo(slot, v, true);
          else if (typeof v === 'number') out += slot.prefix + jsonNumber(v);
          // A boolean or null (isFlat): String() writes what JSON does.
          else out += slot.prefix + String(v);
        }
      }
    }
    return `{${out.slice(1)}}\n`;
  }

  /**
   * Writes a flat line whose keys name no secret and returns true; returns false (nothing
   * written) for a line the deep masker must take.
   */
  tryWrite(level: string, message: string, fields: Readonly<Record<string, unknown>>): boolean {
    if (!isFlat(fields)) return false;
    const shape = this.shape(message, fields);
    if (!shape.fast) return false;
    this.emit(this.line(shape, level, message, fields));
    return true;
  }

  write(level: string, message: string, fields: Readonly<Record<string, unknown>>): void {
    this.emit(this.serialize(level, message, fields));
  }

  private emit(line: string): void {
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
