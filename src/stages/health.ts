/**
 * Stage "health" (docs/design.md#health-and-shutdown): `healthPath` answers 200 while the process lives, `readyPath` 200
 * when ready and 503 from the drain on. Neither is proxied, authenticated or access-logged.
 */
import type { ServerResponse } from 'node:http';

function pathOf(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

export function sendHealth(
  res: ServerResponse,
  status: number,
  state: string,
  requestId: string,
): void {
  const body = JSON.stringify({ status: state });
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
    'Cache-Control': 'no-store',
    'X-Request-ID': requestId,
  });
  res.end(body);
}

export interface HealthPaths {
  healthPath: string;
  readyPath: string;
  /** Served on the main listener when `metrics.port` is 0. */
  metricsPath?: string;
}

export type HealthTarget = 'health' | 'ready' | 'metrics' | undefined;

/** Which of the paths authgate answers itself a request target is, if any. */
export function healthTarget(url: string, paths: HealthPaths): HealthTarget {
  const path = pathOf(url);
  if (path === paths.healthPath) return 'health';
  if (path === paths.readyPath) return 'ready';
  if (paths.metricsPath !== undefined && path === paths.metricsPath) return 'metrics';
  return undefined;
}
