/**
 * The OTLP receiver of the tracing tests (test/otel/receiver.py): decodes authgate's export
 * with the official protobuf definitions (opentelemetry-proto, in MLflow's pinned virtualenv).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PYTHON } from './mlflow';

export interface ReceivedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  kind: string;
  attributes: Record<string, unknown>;
  status: string;
  statusMessage: string;
  startNs: string;
  endNs: string;
  events: string[];
  resource: Record<string, unknown>;
  scope: string;
  contentType: string;
}

export interface OtlpReceiver {
  /** The traces endpoint (`tracing.otlpEndpoint`). */
  url: string;
  spans(): Promise<ReceivedSpan[]>;
  stop(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const child = spawn(PYTHON, [join(__dirname, '..', 'otel', 'receiver.py')], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the OTLP receiver exited with ${code}`)));
  });
  const base = `http://127.0.0.1:${port.trim()}`;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    url: `${base}/v1/traces`,
    async spans() {
      return (await (await fetch(`${base}/spans`)).json()) as ReceivedSpan[];
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** A trace as an indented tree with each span's offset and duration (for docs/tracing.md). */
export function renderTrace(spans: ReceivedSpan[]): string {
  const t0 = Math.min(...spans.map((s) => Number(BigInt(s.startNs) / 1000n)));
  const ids = new Set(spans.map((s) => s.spanId));
  const lines: string[] = [];
  const walk = (span: ReceivedSpan, depth: number): void => {
    const start = (Number(BigInt(span.startNs) / 1000n) - t0) / 1000;
    const ms = Number((BigInt(span.endNs) - BigInt(span.startNs)) / 1000n) / 1000;
    const attrs = Object.entries(span.attributes)
      .filter(([k]) => k.startsWith('authgate.') || k.includes('status_code') || k === 'url.full')
      .filter(([k]) => k !== 'authgate.request_id')
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    const status = span.status === 'STATUS_CODE_ERROR' ? ' ERROR' : '';
    lines.push(
      `${'  '.repeat(depth)}${span.name} [${span.kind.replace('SPAN_KIND_', '')}${status}] +${start.toFixed(1)} ms, ${ms.toFixed(1)} ms  ${attrs}`,
    );
    for (const child of spans.filter((s) => s.parentSpanId === span.spanId)) walk(child, depth + 1);
  };
  for (const root of spans.filter((s) => !ids.has(s.parentSpanId))) walk(root, 0);
  return lines.join('\n');
}
