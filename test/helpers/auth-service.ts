import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createServer as createHttpsServer,
  type ServerOptions as HttpsServerOptions,
} from 'node:https';
import type { AddressInfo } from 'node:net';

export interface KeyRecord {
  key_id?: string;
  name?: string;
  created_at?: string;
  user_id: string;
  tenant_ids?: string[];
  scopes?: string[];
  expires_at?: number;
}

/** A real HTTP auth service speaking the docs/design.md#configuration contract, with knobs for failures. */
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
  /** When set, a validate call without exactly this Authorization is answered 401. */
  requireAuthorization?: string;
  /** The Authorization header of each validate call. */
  authorizations: Array<string | undefined>;
  /** Every admin request: method, path after the admin base, JSON body (for contract tests). */
  adminCalls: Array<{ method: string; path: string; body: string }>;
  /** The key-management API of docs/design.md#command-line (`auth.apiKeys.adminUrl`), with this bearer token. */
  adminUrl: string;
  adminToken: string;
  close(): Promise<void>;
}

const ADMIN_PATH = '/api/v1/keys';
const VALIDATE_PATH = '/api/v1/keys/validate';
const ADMIN_TOKEN = 'admin-token-for-tests-0123456789abcdef';

/** `tls`: serve HTTPS with these options (a client certificate may be required). */
export async function startAuthService(
  options: { tls?: HttpsServerOptions } = {},
): Promise<AuthService> {
  const state = {
    keys: new Map<string, KeyRecord>(),
    calls: 0,
    mode: 'ok' as AuthService['mode'],
    failNext: 0,
    delayMs: 0,
    bodies: [] as string[],
    reply: undefined as AuthService['reply'],
    requireAuthorization: undefined as string | undefined,
    authorizations: [] as Array<string | undefined>,
    /** Every admin request: method, path after the admin base, JSON body (for contract tests). */
    adminCalls: [] as Array<{ method: string; path: string; body: string }>,
  };
  let created = 0;
  const admin = (req: IncomingMessage, res: ServerResponse, body: string): void => {
    if (req.headers.authorization !== `Bearer ${ADMIN_TOKEN}`) {
      res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":"bad admin token"}');
      return;
    }
    const id = (req.url ?? '').slice(ADMIN_PATH.length + 1);
    state.adminCalls.push({ method: req.method ?? '', path: id, body });
    if (req.method === 'POST' && id === '') {
      const ask = JSON.parse(body) as { name: string; scopes: string[]; tenant_ids: string[] };
      const apiKey = `hok_live_created${++created}${Math.random().toString(36).slice(2, 12)}`;
      const record: KeyRecord = {
        key_id: `key_${created}`,
        name: ask.name,
        created_at: new Date().toISOString(),
        user_id: `svc-${ask.name}`,
        scopes: ask.scopes,
        tenant_ids: ask.tenant_ids,
      };
      state.keys.set(apiKey, record);
      res
        .writeHead(201, { 'Content-Type': 'application/json' })
        .end(JSON.stringify({ key_id: record.key_id, api_key: apiKey, name: ask.name }));
    } else if (req.method === 'GET' && id === '') {
      const keys = [...state.keys.entries()].map(([apiKey, r]) => ({
        ...r,
        revoked: false,
        api_key: apiKey, // a careless service: the CLI must never print it
      }));
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ keys }));
    } else if (req.method === 'DELETE' && id !== '') {
      const entry = [...state.keys.entries()].find(([, r]) => r.key_id === id);
      if (entry) state.keys.delete(entry[0]);
      res.writeHead(entry ? 204 : 404).end();
    } else {
      res.writeHead(405).end();
    }
  };
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if ((req.url ?? '').startsWith(ADMIN_PATH) && !(req.url ?? '').startsWith(VALIDATE_PATH))
        return admin(req, res, body);
      state.calls++;
      state.bodies.push(body);
      state.authorizations.push(req.headers.authorization);
      if (
        state.requireAuthorization !== undefined &&
        req.headers.authorization !== state.requireAuthorization
      ) {
        res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":"unauthorized"}');
        return;
      }
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
  };
  const server: Server = options.tls
    ? createHttpsServer(options.tls, handler)
    : createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const scheme = options.tls ? 'https' : 'http';
  return Object.assign(state, {
    url: `${scheme}://127.0.0.1:${port}${VALIDATE_PATH}`,
    adminUrl: `${scheme}://127.0.0.1:${port}${ADMIN_PATH}`,
    adminToken: ADMIN_TOKEN,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  }) as AuthService;
}
