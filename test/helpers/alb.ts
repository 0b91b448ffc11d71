import { generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** base64url *with* "=" padding, the way the ALB encodes its token segments. */
export function paddedBase64url(data: Buffer | string): string {
  const b = Buffer.from(data).toString('base64url');
  return b + '='.repeat((4 - (b.length % 4)) % 4);
}

export interface AlbKey {
  kid: string;
  privateKey: KeyObject;
  publicPem: string;
}

export function albKey(): AlbKey {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    kid: randomUUID(),
    privateKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

export const ALB_ARN =
  'arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/app/mlflow/50dc6c495c0c9188';

/** A token shaped like the ALB's x-amzn-oidc-data: ES256, signer/kid/exp in the header, padded. */
export function albToken(
  key: AlbKey,
  claims: Record<string, unknown> = {},
  header: Record<string, unknown> = {},
): string {
  const exp = Math.floor(Date.now() / 1000) + 120;
  const h = paddedBase64url(
    JSON.stringify({
      typ: 'JWT',
      kid: key.kid,
      alg: 'ES256',
      iss: 'https://idp.example',
      client: 'mlflow-ui',
      signer: ALB_ARN,
      exp,
      ...header,
    }),
  );
  const p = paddedBase64url(
    JSON.stringify({
      sub: 'u-1234',
      email: 'ann@example.com',
      exp,
      iss: 'https://idp.example',
      ...claims,
    }),
  );
  const signature = sign('sha256', Buffer.from(`${h}.${p}`), {
    key: key.privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${h}.${p}.${paddedBase64url(signature)}`;
}

/** A local stand-in for public-keys.auth.elb.<region>.amazonaws.com: GET /<kid> → PEM. */
export interface AlbKeyServer {
  url: string;
  keys: Map<string, string>;
  fetches: string[];
  close(): Promise<void>;
}

export async function startAlbKeyServer(keys: AlbKey[]): Promise<AlbKeyServer> {
  const state = { keys: new Map(keys.map((k) => [k.kid, k.publicPem])), fetches: [] as string[] };
  const server: Server = createServer((req, res) => {
    const kid = (req.url ?? '/').slice(1);
    state.fetches.push(kid);
    const pem = state.keys.get(kid);
    if (!pem) res.writeHead(404).end();
    else res.writeHead(200, { 'Content-Type': 'text/plain' }).end(pem);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
