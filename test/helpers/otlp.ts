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
