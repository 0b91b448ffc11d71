import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface KeyRecord {
  user_id: string;
  tenant_ids?: string[];
  scopes?: string[];
  expires_at?: number;
}

/** A real HTTP auth service speaking the DESIGN §3 contract, with knobs for failures. */
export interface AuthService {
  url: string;
  keys: Map<string, KeyRecord>;
  calls: number;
  /** 'ok' | 'error500' | 'timeout' | 'notfound404' */
  mode: 'ok' | 'error500' | 'timeout' | 'notfound404';
  /** Fail this many calls with 500 before answering normally. */
  failNext: number;
  delayMs: number;
  bodies: string[];
  /** When set, answers every call with this status and raw body (contract-breaking answers). */
  reply?: { status: number; body: string };
  close(): Promise<void>;
}

export async function startAuthService(): Promise<AuthService> {
  const state = {
    keys: new Map<string, KeyRecord>(),
    calls: 0,
    mode: 'ok' as AuthService['mode'],
    failNext: 0,
    delayMs: 0,
    bodies: [] as string[],
    reply: undefined as AuthService['reply'],
  };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      state.calls++;
      state.bodies.push(body);
      if (state.mode === 'timeout') return; // never answers
      setTimeout(() => {
        if (state.failNext > 0 || state.mode === 'error500') {
          if (state.failNext > 0) state.failNext--;
          res.writeHead(500).end('boom');
          return;
        }
        if (state.reply) {
          res
            .writeHead(state.reply.status, { 'Content-Type': 'application/json' })
            .end(state.reply.body);
          return;
        }
        const key = (JSON.parse(body) as { api_key: string }).api_key;
        const record = state.keys.get(key);
        if (!record) {
          if (state.mode === 'notfound404') res.writeHead(404).end();
          else
            res
              .writeHead(200, { 'Content-Type': 'application/json' })
              .end(JSON.stringify({ valid: false }));
          return;
        }
        res
          .writeHead(200, { 'Content-Type': 'application/json' })
          .end(JSON.stringify({ valid: true, ...record }));
      }, state.delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}/api/v1/keys/validate`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  }) as AuthService;
}
