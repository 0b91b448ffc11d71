/**
 * Hop-by-hop header rules (RFC 9110 §7.6.1, docs/design.md#headers), on raw header lists
 * (`[name, value, name, value, ...]` as in `IncomingMessage.rawHeaders`) so that end-to-end
 * headers keep their exact case, order and repetitions.
 */

/** A flat raw header list: even offsets are names, odd offsets values. */
export type RawHeaders = string[];

export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/**
 * Names a client can never remove by listing them in `Connection` when no guard is given:
 * identity of the request, and the framing/target headers whose removal would change what the
 * upstream parses. The request direction passes the configured guard (headers/guarded.ts).
 */
export const CONNECTION_PROTECTED_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'x-user-id',
  'x-request-id',
  'x-tenant-id',
  'host',
  'content-length',
]);

/** Adds to `into` the lower-cased names one `Connection` value lists, minus the protected ones. */
function addListedNames(value: string, protect: ReadonlySet<string>, into: Set<string>): void {
  for (const token of value.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && !protect.has(name)) into.add(name);
  }
}

/** Lower-cased names listed in all `Connection` headers of `raw`, minus the protected ones. */
export function connectionListedNames(
  raw: RawHeaders,
  protect: ReadonlySet<string> = CONNECTION_PROTECTED_HEADERS,
): Set<string> {
  const listed = new Set<string>();
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === 'connection')
      addListedNames(raw[i + 1] as string, protect, listed);
  }
  return listed;
}

export interface StripOptions {
  /** Lower-cased names to drop as well (e.g. headers the proxy sets itself). */
  drop?: ReadonlySet<string>;
  /** Keep `Upgrade` and `Connection: upgrade` (authorised WebSocket upgrade). */
  keepUpgrade?: boolean;
  /** Lower-cased names `Connection` cannot remove (default CONNECTION_PROTECTED_HEADERS). */
  protect?: ReadonlySet<string>;
}

/**
 * Returns a copy of `raw` without hop-by-hop headers and the names listed in `Connection`.
 * Done before the proxy adds its own headers, so a client cannot strip those (reply-from).
 * @example stripHopByHop(['Connection', 'close, X-Foo', 'X-Foo', '1', 'X-Bar', '2']) // ['X-Bar', '2']
 */
export function stripHopByHop(raw: RawHeaders, options: StripOptions = {}): RawHeaders {
  const { drop, keepUpgrade } = options;
  const out: RawHeaders = [];
  // One pass, each name lower-cased once; the names a `Connection` header lists (rare beyond
  // hop-by-hop ones like keep-alive, which go anyway) are removed after, from the whole list.
  let listed: Set<string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as string;
    const lower = name.toLowerCase();
    if (lower === 'connection') {
      listed ??= new Set();
      addListedNames(raw[i + 1] as string, options.protect ?? CONNECTION_PROTECTED_HEADERS, listed);
    }
    if (keepUpgrade && (lower === 'upgrade' || lower === 'connection')) {
      if (lower === 'connection') out.push(name, 'upgrade');
      else out.push(name, raw[i + 1] as string);
      continue;
    }
    if (HOP_BY_HOP_HEADERS.has(lower) || drop?.has(lower)) continue;
    out.push(name, raw[i + 1] as string);
  }
  if (listed === undefined) return out;
  // Hop-by-hop names are gone already (or kept on purpose: an authorised upgrade).
  for (const name of HOP_BY_HOP_HEADERS) listed.delete(name);
  if (listed.size === 0) return out;
  const kept: RawHeaders = [];
  for (let i = 0; i < out.length; i += 2) {
    const name = out[i] as string;
    if (listed.has(name.toLowerCase())) continue;
    kept.push(name, out[i + 1] as string);
  }
  return kept;
}

/** All values of header `lowerName` in `raw`, in order. */
export function headerValues(raw: RawHeaders, lowerName: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    if ((raw[i] as string).toLowerCase() === lowerName) values.push(raw[i + 1] as string);
  }
  return values;
}
