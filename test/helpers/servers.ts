import { createHash } from 'node:crypto';
import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/load';
import { createLoggerFromConfig, type Logger } from '../../src/logging/logger';
import { startServer, type RunningServer } from '../../src/server';
import type { AppDependencies } from '../../src/app';

export interface SeenRequest {
  method: string;
  url: string;
  rawHeaders: string[];
  bodyHash: string;
  bodyBytes: number;
  aborted: boolean;
}

export interface TestUpstream {
  url: string;
  port: number;
  seen: SeenRequest[];
  server: Server;
  close(): Promise<void>;
  /** Resolves with the next request the upstream finished reading (or saw aborted). */
  nextRequest(): Promise<SeenRequest>;
}

export type UpstreamHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  seen: SeenRequest,
) => void;

/** Replies 200 with a JSON echo of what it received (after reading the whole body). */
export const echoHandler: UpstreamHandler = (_req, res, seen) => {
  const body = JSON.stringify(seen);
  res.writeHead(200, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
};

export async function startUpstream(handler: UpstreamHandler = echoHandler): Promise<TestUpstream> {
  const seen: SeenRequest[] = [];
  let waiters: Array<(s: SeenRequest) => void> = [];
  const server = createServer((req, res) => {
    const hash = createHash('sha256');
    const record: SeenRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      rawHeaders: req.rawHeaders,
      bodyHash: '',
      bodyBytes: 0,
      aborted: false,
    };
    const done = (): void => {
      record.bodyHash = hash.digest('hex');
      seen.push(record);
      const w = waiters;
      waiters = [];
      for (const fn of w) fn(record);
    };
    let finished = false;
    req.on('data', (c: Buffer) => {
      hash.update(c);
      record.bodyBytes += c.length;
    });
    req.on('end', () => {
      finished = true;
      done();
      handler(req, res, record);
    });
    req.on('close', () => {
      if (!finished) {
        finished = true;
        record.aborted = true;
        done();
      }
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    server,
    nextRequest: () => new Promise((resolve) => waiters.push(resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.lines.push(
      ...chunk
        .toString('utf8')
        .split('\n')
        .filter((l) => l !== ''),
    );
    cb();
  }
  entries(): Array<Record<string, unknown>> {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }
  text(): string {
    return this.lines.join('\n');
  }
}

export interface TestProxy {
  url: string;
  port: number;
  running: RunningServer;
  logs: LogCapture;
  logger: Logger;
  close(): Promise<void>;
}

export async function startProxy(
  rawConfig: Record<string, unknown>,
  deps: Partial<AppDependencies> = {},
  env: NodeJS.ProcessEnv = {},
  port = 0,
): Promise<TestProxy> {
  // Tests close their proxies at once; drain tests set drainDelayMs themselves.
  const server = { drainDelayMs: 0, ...(rawConfig.server as Record<string, unknown> | undefined) };
  // The auth-service probe would add calls to tests that count them; probe tests turn it on.
  const auth = { ...(rawConfig.auth as Record<string, unknown> | undefined) };
  if (auth.apiKeys) auth.apiKeys = { probeIntervalSec: 0, ...(auth.apiKeys as object) };
  const config = parseConfig({ ...rawConfig, server, auth }, env);
  const logs = new LogCapture();
  const logger = createLoggerFromConfig(config, logs);
  const running = await startServer(
    config,
    { logger, ...deps },
    { port, host: '127.0.0.1', metricsPort: 0 },
  );
  return {
    url: `http://127.0.0.1:${running.port}`,
    port: running.port,
    running,
    logs,
    logger,
    close: async () => {
      running.server.closeAllConnections();
      await running.shutdown();
    },
  };
}

export interface RawResponse {
  status: number;
  rawHeaders: string[];
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** An HTTP request with an exact raw header list (case, order and repeats kept). */
export function rawRequest(
  url: string,
  options: { method?: string; path: string; headers: string[]; body?: Buffer | string },
): Promise<RawResponse> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        hostname: u.hostname,
        port: u.port,
        method: options.method ?? 'GET',
        path: options.path,
        headers: options.headers,
        setHost: false,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            rawHeaders: res.rawHeaders,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Pairs of [name, value] from a raw header list. */
export function pairs(raw: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i] as string, raw[i + 1] as string]);
  return out;
}

export function route(
  upstream: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return { name: 'api', prefix: '/', upstream, auth: 'none', ...extra };
}

/** Waits (up to 1 s) until a proxy's Redis connection is ready. */
export async function waitForRedis(proxy: TestProxy): Promise<void> {
  for (let i = 0; i < 50 && !proxy.running.auth?.redis?.isUp(); i++)
    await new Promise((r) => setTimeout(r, 20));
}

export interface ProxyFixture {
  readonly upstream: TestUpstream;
  readonly proxy: TestProxy;
}

/**
 * The usual pair for a describe block: a real upstream (echo by default) and an in-process
 * authgate in front of it, started before the block and closed after it.
 */
export function useProxy(
  config: (upstreamUrl: string) => Record<string, unknown>,
  handler?: UpstreamHandler,
): ProxyFixture {
  const fixture = {} as { upstream: TestUpstream; proxy: TestProxy };
  beforeAll(async () => {
    fixture.upstream = await startUpstream(handler);
    fixture.proxy = await startProxy(config(fixture.upstream.url));
  });
  afterAll(async () => {
    await fixture.proxy?.close();
    await fixture.upstream?.close();
  });
  return fixture;
}

/** A loopback port that was free a moment ago (for servers that must be told their port). */
export async function freePort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

export interface ListeningApp {
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Serves a request handler (an Express app, say) on a loopback port until `close()`. */
export async function listen(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<ListeningApp> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
