/**
 * CloudWatch Logs JSON filter patterns (`{ $.type = "access" && $.status >= 500 }`), evaluated
 * against a log line as CloudWatch does, for the subset deploy/cloudwatch uses: `$.field` paths,
 * `=`, `!=`, `>`, `>=`, `<`, `<=`, strings (with `*` wildcards) and numbers, `&&`, `||` and
 * parentheses. A pattern outside that subset throws: the test then says so instead of passing.
 */
type Node =
  | { kind: 'and'; left: Node; right: Node }
  | { kind: 'or'; left: Node; right: Node }
  | { kind: 'cmp'; path: string[]; op: string; value: string | number };

function tokenize(text: string): string[] {
  const re = /\s*(\(|\)|&&|\|\||!=|>=|<=|=|>|<|"(?:[^"\\]|\\.)*"|\$[.\w]+|-?\d+(?:\.\d+)?)/y;
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (/\s/.test(text[i]!)) {
      i++;
      continue;
    }
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) throw new Error(`unsupported filter pattern at: ${text.slice(i)}`);
    out.push(m[1]!);
    i = re.lastIndex;
  }
  return out;
}

export function parsePattern(pattern: string): Node {
  const inner = /^\s*\{(.*)\}\s*$/s.exec(pattern);
  if (!inner) throw new Error(`not a JSON filter pattern: ${pattern}`);
  const tokens = tokenize(inner[1]!);
  let pos = 0;
  const next = (): string => {
    const t = tokens[pos++];
    if (t === undefined) throw new Error('unexpected end of pattern');
    return t;
  };
  const or = (): Node => {
    let left = and();
    while (tokens[pos] === '||') {
      pos++;
      left = { kind: 'or', left, right: and() };
    }
    return left;
  };
  const and = (): Node => {
    let left = term();
    while (tokens[pos] === '&&') {
      pos++;
      left = { kind: 'and', left, right: term() };
    }
    return left;
  };
  const term = (): Node => {
    const t = next();
    if (t === '(') {
      const n = or();
      if (next() !== ')') throw new Error('missing )');
      return n;
    }
    if (!t.startsWith('$.')) throw new Error(`expected $.field, got ${t}`);
    const op = next();
    if (!['=', '!=', '>', '>=', '<', '<='].includes(op)) throw new Error(`bad operator ${op}`);
    const raw = next();
    const value = raw.startsWith('"') ? (JSON.parse(raw) as string) : Number(raw);
    return { kind: 'cmp', path: t.slice(2).split('.'), op, value };
  };
  const node = or();
  if (pos !== tokens.length) throw new Error(`trailing tokens: ${tokens.slice(pos).join(' ')}`);
  return node;
}

function evaluate(node: Node, line: Record<string, unknown>): boolean {
  if (node.kind === 'and') return evaluate(node.left, line) && evaluate(node.right, line);
  if (node.kind === 'or') return evaluate(node.left, line) || evaluate(node.right, line);
  return compare(node, line);
}

function compare(node: Extract<Node, { kind: 'cmp' }>, line: Record<string, unknown>): boolean {
  let v: unknown = line;
  for (const k of node.path)
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  if (v === undefined) return false;
  if (typeof node.value === 'number') {
    if (typeof v !== 'number') return false;
    switch (node.op) {
      case '=':
        return v === node.value;
      case '!=':
        return v !== node.value;
      case '>':
        return v > node.value;
      case '>=':
        return v >= node.value;
      case '<':
        return v < node.value;
      default:
        return v <= node.value;
    }
  }
  const text = String(v);
  const re = new RegExp(
    `^${node.value
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  if (node.op === '=') return re.test(text);
  if (node.op === '!=') return !re.test(text);
  throw new Error(`string comparison ${node.op} is not supported`);
}

/** Does the CloudWatch JSON filter pattern match this log line? */
export function matchesPattern(pattern: string, line: Record<string, unknown>): boolean {
  return evaluate(parsePattern(pattern), line);
}
