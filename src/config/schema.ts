/**
 * The configuration schema (docs/design.md#configuration). Every field carries its default and a description;
 * docs/configuration.md is generated from this file (`npm run docs:config`) and a test keeps
 * the two in step.
 */
import { z } from 'zod';
import { authSchema } from './auth-schema';
import { isIP } from 'node:net';
import { bool, cidrList, fromString, httpUrl, int, urlPath } from './fields';
import { routeSchema } from './route-schema';

export { ALGORITHMS, type Algorithm } from './auth-schema';
export { HTTP_METHODS, isCidr } from './fields';
export { routeSchema } from './route-schema';

const redisNode = z.strictObject({
  host: z.string().min(1).describe('Host name or address.'),
  port: int(1, 65_535).describe('Port.'),
});

/** `1.2.3.4`, `1.2.3.4:53`, `::1` or `[::1]:53`: what node's resolver takes. */
function isDnsServer(value: string): boolean {
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(value);
  if (bracketed) return isIP(bracketed[1] as string) === 6;
  if (isIP(value) !== 0) return true;
  const at = value.lastIndexOf(':');
  return at > 0 && isIP(value.slice(0, at)) === 4 && /^\d{1,5}$/.test(value.slice(at + 1));
}

export const configSchema = z.strictObject({
  server: z
    .strictObject({
      port: int(0, 65535).default(8080).describe('Main listener port (PORT overrides).'),
      host: z.string().min(1).default('0.0.0.0').describe('Address to bind.'),
      trustedProxies: cidrList.describe(
        'Peers whose X-Forwarded-* headers are extended (the ALB).',
      ),
      dns: z
        .strictObject({
          servers: z
            .array(
              z.string().refine(isDnsServer, {
                message: 'must be an IP address, optionally with :port ([v6]:port)',
              }),
            )
            .min(1)
            .optional()
            .describe(
              'DNS servers (ip or ip:port) upstream host names are resolved with; absent: the system resolver.',
            ),
          refreshSec: int(1, 3600)
            .default(30)
            .describe('How often upstream host names are resolved again.'),
        })
        .prefault({})
        .describe(
          'Resolution of upstream host names: each address is balanced (docs/internal-hop.md).',
        ),
      internalNetworks: cidrList.describe(
        'Callers trusted to pass X-User-ID through (internal hop).',
      ),
      tls: z
        .strictObject({
          certFile: z.string().min(1).describe('PEM certificate chain of the listener.'),
          keyFile: z.string().min(1).describe('PEM private key of the listener.'),
          clientCaFile: z
            .string()
            .min(1)
            .optional()
            .describe('PEM CA bundle client certificates are verified against.'),
          clientCert: z
            .enum(['none', 'optional', 'required'])
            .default('none')
            .describe(
              'none: not asked for; optional: asked for, verified when sent; required: the TLS handshake fails without a valid one.',
            ),
          reloadIntervalMs: int(100, 3_600_000)
            .default(5000)
            .describe(
              'The files are checked this often and re-read when they change (rotation without restart); a bad new pair keeps the current one.',
            ),
        })
        .refine((t) => t.clientCert === 'none' || t.clientCaFile !== undefined, {
          message: 'clientCert optional or required needs clientCaFile',
          path: ['clientCaFile'],
        })
        .optional()
        .describe('HTTPS on the main listener (docs/tls.md).'),
      drainDelayMs: int(0, 600_000)
        .default(5000)
        .describe(
          'On SIGTERM: /readyz answers 503 while every request is still served for this long (load balancer deregistration), then the listener closes.',
        ),
      shutdownGraceMs: int(0, 600_000)
        .default(25_000)
        .describe('After the drain delay: how long requests in flight may take to finish.'),
      headersTimeoutMs: int(1000, 600_000).default(10_000).describe('Slowloris guard.'),
      keepAliveTimeoutMs: int(1000, 3_600_000)
        .default(65_000)
        .describe('Client keep-alive; keep above the ALB idle timeout (60 s).'),
      reusePort: bool()
        .default(false)
        .describe(
          'With --workers: each worker binds the port itself (SO_REUSEPORT, Linux) and the kernel spreads connections, instead of the primary handing them out round-robin. A worker that stops drops the connections still queued on its socket: keep false where restarts must lose nothing.',
        ),
      watchConfig: bool()
        .default(false)
        .describe(
          'Reload the config when its file changes (as SIGHUP does): checked fully, a bad one keeps the running config (docs/operations.md).',
        ),
      watchConfigIntervalMs: int(100, 3_600_000)
        .default(2_000)
        .describe('How often the config file is checked for a change (watchConfig).'),
      healthPath: urlPath.default('/healthz').describe('Liveness: 200 while the process lives.'),
      readyPath: urlPath.default('/readyz').describe('Readiness: 503 while draining.'),
    })
    .prefault({}),
  proxy: z
    .strictObject({
      maxSocketsPerUpstream: int(1, 65_535)
        .default(256)
        .describe('Keep-alive sockets per upstream origin; requests beyond queue.'),
      idleSocketTimeoutMs: int(100, 600_000)
        .default(4000)
        .describe(
          'Below the upstream keep-alive timeout (Node 5 s, gunicorn 2 s: lower it there).',
        ),
      maxUploadsPerClient: int(1, 65_535)
        .optional()
        .describe(
          'Streamed request bodies one client address may have in flight to one upstream origin at once (default: half of maxSocketsPerUpstream, at least 1); past it, 429 RATE_LIMITED. Keeps one slow uploader from holding every pooled connection.',
        ),
      streamGcEveryMb: int(0, 1024)
        .default(16)
        .describe(
          'serve: while bodies stream, a minor GC when more than this many MB of read buffers wait for collection (checked every quarter of it streamed), so RSS stays bounded while gigabytes stream; 0 turns it off.',
        ),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      port: int(0, 65535).default(9090).describe('Separate listener; 0 serves on the main port.'),
      path: urlPath.default('/metrics').describe('Scrape path.'),
      bearerToken: z.string().min(16).optional().describe('Require this bearer token on scrapes.'),
    })
    .prefault({}),
  identityAssertion: z
    .strictObject({
      header: z
        .string()
        .regex(/^[A-Za-z0-9-]+$/)
        .default('X-Authgate-Assertion')
        .describe(
          'The header the upstream gets the assertion in (a client-sent one never passes).',
        ),
      issuer: z.string().min(1).default('authgate').describe('The `iss` upstreams pin.'),
      algorithm: z
        .enum(['ES256', 'EdDSA'])
        .default('ES256')
        .describe('ES256 (P-256) or EdDSA (Ed25519).'),
      keyFile: z
        .string()
        .min(1)
        .optional()
        .describe(
          'PEM private key shared by every instance; absent: a key made at start (each instance would differ: serve and check-config warn).',
        ),
      ttlSec: int(10, 3600)
        .default(60)
        .describe(
          'Lifetime of an assertion; one per principal and route is re-signed after half of it.',
        ),
      jwksPath: urlPath
        .default('/.well-known/authgate/jwks.json')
        .describe('Where the public key is served, on the main and the metrics listener.'),
    })
    .optional()
    .describe(
      'A short-lived JWT authgate signs for upstreams, on routes with identityAssertion: true (docs/identity-assertion.md).',
    ),
  tracing: z
    .strictObject({
      otlpEndpoint: httpUrl
        .optional()
        .describe(
          'OTLP/HTTP (protobuf) traces endpoint, e.g. http://otel-collector:4318/v1/traces; absent: tracing off, at no cost.',
        ),
      serviceName: z.string().min(1).default('authgate').describe('The service.name resource.'),
      sampleRatio: z
        .preprocess(fromString, z.number().min(0).max(1))
        .default(0.1)
        .describe(
          'Share of new traces recorded; parent-based: an incoming sampled traceparent (or X-Amzn-Trace-Id Sampled=1) is always followed, an unsampled one never.',
        ),
      propagate: z
        .enum(['passthrough', 'participate'])
        .default('passthrough')
        .describe(
          "passthrough: traceparent reaches the upstream untouched; participate: the upstream's parent is authgate's upstream span.",
        ),
      exportDelayMs: int(10, 60_000)
        .default(2000)
        .describe('Spans are exported in batches at most this often.'),
      maxQueueSize: int(1, 1_000_000)
        .default(2048)
        .describe(
          'Spans waiting for export; past it new spans are dropped, never a request slowed.',
        ),
    })
    .prefault({})
    .describe('OpenTelemetry tracing (docs/tracing.md).'),
  logging: z
    .strictObject({
      level: z
        .enum(['error', 'warn', 'info', 'debug'])
        .default('info')
        .describe('LOG_LEVEL overrides.'),
      accessLog: z
        .enum(['all', 'errors', 'none'])
        .default('all')
        .describe(
          'Access lines: all, errors (answers >= 400 and cut exchanges), none. Levels: error for >= 500, warn for a 4xx authgate answered, else info.',
        ),
      auditLog: z
        .enum(['all', 'denials'])
        .default('all')
        .describe(
          'Auth decision lines: all, or denials (deny and error decisions; allowed requests are still in the access line and the metrics).',
        ),
      maskHeaders: z.array(z.string().min(1)).default([]).describe('Extra header names to mask.'),
      maskQueryParams: z.array(z.string().min(1)).default([]).describe('Extra query keys to mask.'),
    })
    .prefault({}),
  redis: z
    .strictObject({
      url: z
        .string()
        .regex(/^rediss?:\/\//, { message: 'must be a redis:// or rediss:// URL' })
        .optional()
        .describe('Absent: in-process stores (single instance only).'),
      keyPrefix: z.string().default('authgate:').describe('Prefix of every Redis key.'),
      sentinel: z
        .strictObject({
          name: z.string().min(1).describe('The master group name the sentinels monitor.'),
          sentinels: z.array(redisNode).min(1).describe('Sentinel addresses, tried in order.'),
          password: z
            .string()
            .optional()
            .describe('Password of the Redis master and replicas (use ${VAR}).'),
          sentinelPassword: z.string().optional().describe('Password of the sentinels themselves.'),
        })
        .optional()
        .describe('Redis through Sentinel (instead of url): ioredis follows failovers.'),
      cluster: z
        .strictObject({
          nodes: z.array(redisNode).min(1).describe('Seed nodes of the cluster.'),
          password: z.string().optional().describe('Cluster password (use ${VAR}).'),
        })
        .optional()
        .describe('Redis Cluster (instead of url): keys that go together share a hash tag.'),
    })
    .refine((r) => [r.url, r.sentinel, r.cluster].filter((v) => v !== undefined).length <= 1, {
      message: 'set at most one of url, sentinel and cluster',
    })
    .prefault({}),
  auth: authSchema,
  routes: z
    .array(routeSchema)
    .default([])
    .describe(
      'Named routes; the longest matching prefix wins. serve needs at least one; an embedded gate may have none.',
    ),
});

export type Config = z.output<typeof configSchema>;
export type RouteConfig = Config['routes'][number];
export type IssuerConfig = Config['auth']['jwt']['issuers'][number];
export type ApiKeysConfig = NonNullable<Config['auth']['apiKeys']>;
