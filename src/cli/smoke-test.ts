/**
 * `authgate smoke-test --url URL [--token-env VAR | --api-key-env VAR] [--expect STATUS]`
 * (docs/design.md#command-line): one request through a running proxy; prints the status, the typed error if any,
 * the request id and the round-trip time; exit 0 when the status is as expected (default any
 * 2xx), 1 otherwise. Credentials come from environment variables (never argv, which `ps`
 * shows) and are never printed.
 */
import { parseFlags } from './args';

const USAGE =
  'usage: authgate smoke-test --url URL [--token-env VAR | --api-key-env VAR] [--expect STATUS] [--timeout-ms 5000]';

export async function smokeTestCommand(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, {
    url: { type: 'string' },
    'token-env': { type: 'string' },
    'api-key-env': { type: 'string' },
    expect: { type: 'string' },
    'timeout-ms': { type: 'string', default: '5000' },
  });
  if (values.url === undefined || !/^https?:\/\//.test(values.url)) {
    console.error(`authgate: --url must be an http(s) URL\n${USAGE}`);
    return 2;
  }
  if (values['token-env'] !== undefined && values['api-key-env'] !== undefined) {
    console.error('authgate: give --token-env or --api-key-env, not both');
    return 2;
  }
  const expected = values.expect === undefined ? undefined : Number(values.expect);
  if (
    expected !== undefined &&
    !(Number.isInteger(expected) && expected >= 100 && expected <= 599)
  ) {
    console.error('authgate: --expect must be an HTTP status (100-599)');
    return 2;
  }
  const headers: Record<string, string> = {};
  for (const [flag, set] of [
    ['token-env', (v: string) => (headers.Authorization = `Bearer ${v}`)],
    ['api-key-env', (v: string) => (headers['X-API-Key'] = v)],
  ] as const) {
    const name = values[flag];
    if (name === undefined) continue;
    const value = process.env[name];
    if (!value) {
      console.error(`authgate: --${flag} ${name}: that environment variable is not set`);
      return 2;
    }
    set(value);
  }
  const started = performance.now();
  let res: Response;
  try {
    res = await fetch(values.url, {
      headers,
      redirect: 'manual',
      signal: AbortSignal.timeout(Number(values['timeout-ms']) || 5000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    console.log(`FAIL  no answer from ${new URL(values.url).origin}: ${cause}`);
    return 1;
  }
  const ms = performance.now() - started;
  const text = await res.text();
  let errorCode: string | undefined;
  let authgateCode: string | undefined;
  try {
    const body = JSON.parse(text) as { error_code?: unknown; authgate_code?: unknown };
    if (typeof body.error_code === 'string') errorCode = body.error_code;
    if (typeof body.authgate_code === 'string') authgateCode = body.authgate_code;
  } catch {
    /* not JSON: an upstream answer */
  }
  const ok =
    expected === undefined ? res.status >= 200 && res.status < 300 : res.status === expected;
  const parts = [
    `${ok ? 'OK  ' : 'FAIL'}  ${res.status}`,
    errorCode
      ? `error_code=${errorCode}${authgateCode ? ` authgate_code=${authgateCode}` : ''}`
      : undefined,
    `request_id=${res.headers.get('x-request-id') ?? '(none)'}`,
    `${ms.toFixed(1)} ms`,
    expected === undefined ? 'expected 2xx' : `expected ${expected}`,
  ];
  console.log(parts.filter((p) => p !== undefined).join('  '));
  return ok ? 0 : 1;
}
