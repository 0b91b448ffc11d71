/**
 * OpenTelemetry tracing (docs/tracing.md): one SERVER span per request, children for
 * authentication, every outbound call (JWKS and key fetches, the auth service, token exchange),
 * API-key lookups in Redis, and the upstream request (CLIENT), exported over OTLP/HTTP in
 * batches from a bounded queue — never in a request's way.
 *
 * Sampling is decided once, when the request arrives: an incoming W3C `traceparent` (else the
 * ALB's `X-Amzn-Trace-Id`) decides for its trace; a new trace is recorded with `sampleRatio`. A
 * request that is not recorded gets no span and no context at all, so tracing that is on but
 * not sampling costs a header parse; tracing off costs nothing.
 *
 * The context of the current span travels in an AsyncLocalStorage, so code deep in an
 * authenticator (`outbound()`, a Redis lookup) adds its child span without being handed one.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  trace,
  type Attributes,
  type Context,
  type Span,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api';
import {
  ExportResultCode,
  TraceState,
  W3CTraceContextPropagator,
  type ExportResult,
} from '@opentelemetry/core';
import type * as OtlpExporter from '@opentelemetry/exporter-trace-otlp-proto';
import type * as Resources from '@opentelemetry/resources';
import type * as SdkTrace from '@opentelemetry/sdk-trace';
import type { ReadableSpan, SpanExporter, TracerProvider } from '@opentelemetry/sdk-trace';
import type { Config } from '../config/schema';
import type { RawHeaders } from '../headers/hop-by-hop';
import type { LogFields, Logger } from '../logging/logger';

export { SpanKind };

export type TracingConfig = Config['tracing'];

/** What the store of the current async context holds. */
interface Active {
  tracing: Tracing;
  context: Context;
}

const als = new AsyncLocalStorage<Active>();

/** The trace of one recorded request. */
export interface RequestTrace {
  readonly span: Span;
  readonly context: Context;
  readonly traceId: string;
  readonly spanId: string;
}

const rawHeaderGetter: TextMapGetter<RawHeaders> = {
  keys: (raw) => raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase()),
  get(raw, key) {
    const values: string[] = [];
    for (let i = 0; i < raw.length; i += 2)
      if ((raw[i] as string).toLowerCase() === key) values.push(raw[i + 1] as string);
    return values.length === 0 ? undefined : values.length === 1 ? values[0] : values;
  },
};

const AMZN_ROOT = /(?:^|;)\s*Root=1-([0-9a-f]{8})-([0-9a-f]{24})\s*(?:;|$)/i;
const AMZN_PARENT = /(?:^|;)\s*Parent=([0-9a-f]{16})\s*(?:;|$)/i;
const AMZN_SAMPLED = /(?:^|;)\s*Sampled=([01])\s*(?:;|$)/i;

export interface IncomingTrace {
  traceId: string;
  /** The caller's span, when it named one. */
  spanId?: string;
  /** The caller's sampling decision; undefined when it made none. */
  sampled?: boolean;
  tracestate?: string;
  source: 'traceparent' | 'x-amzn-trace-id';
}

function headerValue(raw: RawHeaders, lower: string): string | undefined {
  for (let i = 0; i < raw.length; i += 2)
    if ((raw[i] as string).toLowerCase() === lower) return raw[i + 1] as string;
  return undefined;
}

const w3c = new W3CTraceContextPropagator();

/**
 * The trace a request continues: a valid W3C `traceparent` first, else the ALB's
 * `X-Amzn-Trace-Id` (its 96-bit Root — 8 hex of time and 24 of randomness — is the 128-bit
 * trace id, `Parent` the caller's span, `Sampled` its decision). Malformed values are ignored.
 */
export function incomingTrace(raw: RawHeaders): IncomingTrace | undefined {
  if (headerValue(raw, 'traceparent') !== undefined) {
    const extracted = trace.getSpanContext(w3c.extract(ROOT_CONTEXT, raw, rawHeaderGetter));
    if (extracted && trace.isSpanContextValid(extracted)) {
      return {
        traceId: extracted.traceId,
        spanId: extracted.spanId,
        sampled: (extracted.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED,
        tracestate: extracted.traceState?.serialize(),
        source: 'traceparent',
      };
    }
  }
  const amzn = headerValue(raw, 'x-amzn-trace-id');
  if (amzn === undefined) return undefined;
  const root = AMZN_ROOT.exec(amzn);
  if (!root) return undefined;
  const traceId = `${root[1]}${root[2]}`.toLowerCase();
  if (/^0+$/.test(traceId)) return undefined;
  const sampled = AMZN_SAMPLED.exec(amzn)?.[1];
  return {
    traceId,
    spanId: AMZN_PARENT.exec(amzn)?.[1]?.toLowerCase(),
    sampled: sampled === undefined ? undefined : sampled === '1',
    source: 'x-amzn-trace-id',
  };
}

/** The W3C traceparent of a span (for `propagate: participate`). */
export function traceparentOf(span: Span): string {
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-${(c.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED ? '01' : '00'}`;
}

/**
 * The exporter, saying when exports start failing and when they work again (one warn line per
 * outage, not one per batch); spans of failed batches are dropped.
 */
class ReportingExporter implements SpanExporter {
  private failing = false;

  constructor(
    private readonly inner: SpanExporter,
    private readonly logger: Logger,
    private readonly endpoint: string,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    this.inner.export(spans, (result) => {
      const failed = result.code !== ExportResultCode.SUCCESS;
      if (failed && !this.failing)
        this.logger.warn('tracing export failed; spans are dropped until it works', {
          endpoint: this.endpoint,
          reason: result.error?.name ?? 'error',
        });
      else if (!failed && this.failing) this.logger.info('tracing export works again', {});
      this.failing = failed;
      done(result);
    });
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}

export interface TracingOptions {
  version: string;
  /** Where export failures are reported. */
  logger?: Logger;
  /** Replaces the OTLP exporter (tests of the wiring only). */
  exporterUrl?: string;
  /** Decides `sampleRatio` draws (tests); Math.random otherwise. */
  random?: () => number;
}

export class Tracing {
  readonly propagate: TracingConfig['propagate'];
  private readonly provider: TracerProvider;
  private readonly tracer: Tracer;
  private readonly ratio: number;
  private readonly random: () => number;

  constructor(config: TracingConfig, options: TracingOptions) {
    this.propagate = config.propagate;
    this.ratio = config.sampleRatio;
    this.random = options.random ?? Math.random;
    const url = options.exporterUrl ?? config.otlpEndpoint ?? '';
    // The SDK and the OTLP exporter (some 190 modules, ~3 MB resident) are loaded only when
    // tracing is configured (docs/design.md#memory).
    const { OTLPTraceExporter } = module.require(
      '@opentelemetry/exporter-trace-otlp-proto',
    ) as typeof OtlpExporter;
    const { resourceFromAttributes } = module.require(
      '@opentelemetry/resources',
    ) as typeof Resources;
    const { AlwaysOnSampler, BatchSpanProcessor, ParentBasedSampler, TracerProvider } =
      module.require('@opentelemetry/sdk-trace') as typeof SdkTrace;
    const otlp = new OTLPTraceExporter({ url, timeoutMillis: 5000 });
    const exporter = options.logger ? new ReportingExporter(otlp, options.logger, url) : otlp;
    this.provider = new TracerProvider({
      resource: resourceFromAttributes({
        'service.name': config.serviceName,
        'service.version': options.version,
      }),
      // Only requests decided as recorded get spans; their children follow them.
      sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
      spanProcessors: [
        new BatchSpanProcessor({
          exporter,
          maxQueueSize: config.maxQueueSize,
          maxExportBatchSize: Math.min(512, config.maxQueueSize),
          scheduledDelayMillis: config.exportDelayMs,
        }),
      ],
    });
    this.tracer = this.provider.getTracer('authgate', options.version);
  }

  /**
   * The SERVER span of a request that is recorded, or undefined (no incoming sampled trace and
   * not drawn by `sampleRatio`). `attributes` are the request's (never a header value).
   */
  startRequest(raw: RawHeaders, name: string, attributes: Attributes): RequestTrace | undefined {
    const incoming = incomingTrace(raw);
    const sampled = incoming?.sampled ?? this.random() < this.ratio;
    if (!sampled) return undefined;
    let parent = ROOT_CONTEXT;
    if (incoming) {
      parent = trace.setSpanContext(ROOT_CONTEXT, {
        traceId: incoming.traceId,
        // An ALB trace without a Parent: a parent id of our own keeps the ALB's trace id.
        spanId: incoming.spanId ?? randomBytes(8).toString('hex'),
        traceFlags: TraceFlags.SAMPLED,
        isRemote: true,
        traceState: incoming.tracestate ? new TraceState(incoming.tracestate) : undefined,
      });
    }
    const span = this.tracer.startSpan(name, { kind: SpanKind.SERVER, attributes }, parent);
    const c = span.spanContext();
    return { span, context: trace.setSpan(parent, span), traceId: c.traceId, spanId: c.spanId };
  }

  /** Runs `fn` with `t`'s span as the current one (or as it is, untraced). */
  run<T>(t: RequestTrace | undefined, fn: () => T): T {
    if (!t) return fn();
    return als.run({ tracing: this, context: t.context }, fn);
  }

  /** A child of `parent`'s span. */
  child(parent: Context, name: string, kind: SpanKind, attributes?: Attributes): Span {
    return this.tracer.startSpan(name, { kind, attributes }, parent);
  }

  forceFlush(): Promise<void> {
    return this.provider.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}

/** The span of the current async context, if a recorded request is being served. */
export function activeSpan(): Span | undefined {
  const store = als.getStore();
  return store ? trace.getSpan(store.context) : undefined;
}

/**
 * Runs `fn` inside a child span of the current one (when there is one), ending it with `fn`:
 * an error status when it throws or `failed` says so. Untraced, it only calls `fn`.
 */
export async function withSpan<T>(
  name: string,
  kind: SpanKind,
  attributes: Attributes,
  fn: (span: Span | undefined) => Promise<T>,
): Promise<T> {
  const store = als.getStore();
  if (!store) return fn(undefined);
  const span = store.tracing.child(store.context, name, kind, attributes);
  try {
    return await als.run(
      { tracing: store.tracing, context: trace.setSpan(store.context, span) },
      () => fn(span),
    );
  } catch (err) {
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: err instanceof Error ? err.name : 'error',
    });
    throw err;
  } finally {
    span.end();
  }
}

/** trace_id and span_id of the current span, for log lines. */
export function traceFields(): { trace_id: string; span_id: string } | undefined {
  const span = activeSpan();
  if (!span) return undefined;
  const c = span.spanContext();
  return { trace_id: c.traceId, span_id: c.spanId };
}

/**
 * The logger of a traced process: every line written while a recorded request is being served
 * carries its `trace_id` and `span_id` (the current span's).
 */
export function withTraceFields(logger: Logger): Logger {
  const wrap =
    (write: (message: string, fields?: LogFields) => void) =>
    (message: string, fields?: LogFields): void => {
      const t = traceFields();
      write(message, t && fields?.trace_id === undefined ? { ...fields, ...t } : fields);
    };
  return {
    error: wrap((m, f) => logger.error(m, f)),
    warn: wrap((m, f) => logger.warn(m, f)),
    info: wrap((m, f) => logger.info(m, f)),
    debug: wrap((m, f) => logger.debug(m, f)),
    isDebugEnabled: () => logger.isDebugEnabled(),
    flush: () => logger.flush(),
  };
}
