/**
 * `serve --workers N|auto`: the primary forks N workers that share the listener,
 * replaces a worker that dies (one JSON line with its exit code or signal), serves `/metrics`
 * as the aggregate of every worker, and on SIGTERM/SIGINT drains every worker, then exits 0.
 *
 * The aggregate outlives workers: the primary asks each worker for its metrics on every scrape
 * (its own IPC message, so it keeps each worker's latest snapshot), a worker that stops
 * gracefully sends a final snapshot, and the counters and histograms of a worker that is gone
 * stay in the sum. So a replaced worker never makes a counter go down (which Prometheus would
 * read as a reset); only what a killed worker counted after the last scrape is lost.
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer, type Server } from 'node:http';
import { AggregatorRegistry, type Registry } from 'prom-client';
import type { Config } from '../config/schema';
import type { Logger } from '../logging/logger';
import { serveScrape } from '../metrics';
import { sendNotFound } from '../error-response';
import { onFilesChange } from '../file-watch';
import { systemClock } from '../clock';

type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** IPC between the primary and its workers. */
const ASK = 'authgate:metrics?';
const ANSWER = 'authgate:metrics';
const FINAL = 'authgate:metrics-final';
const ASK_TIMEOUT_MS = 2000;

interface MetricsMessage {
  cmd: typeof ANSWER | typeof FINAL;
  id?: number;
  metrics: MetricsJson;
}

function isMetricsMessage(m: unknown): m is MetricsMessage {
  const cmd = (m as { cmd?: unknown } | null)?.cmd;
  return (cmd === ANSWER || cmd === FINAL) && Array.isArray((m as MetricsMessage).metrics);
}

/** Only what accumulates survives a worker: counters and histograms, not gauges. */
function accumulating(metrics: MetricsJson): MetricsJson {
  return metrics.filter((m) => ['counter', 'histogram'].includes(String(m.type)));
}

/** Primary → worker: read the config file again and put it in force. */
export const RELOAD = 'authgate:reload';

/** Worker side: answers the primary's scrapes from `registry`. */
export function answerMetricsRequests(registry: Registry): void {
  process.on('message', (msg: { cmd?: unknown; id?: number }) => {
    if (msg?.cmd !== ASK) return;
    void registry.getMetricsAsJSON().then((metrics) => {
      process.send?.({ cmd: ANSWER, id: msg.id, metrics } satisfies MetricsMessage);
    });
  });
}

/** Worker side: the last snapshot before a graceful exit. Resolves once it was sent. */
export async function sendFinalMetrics(registry: Registry): Promise<void> {
  if (!process.send) return;
  const metrics = await registry.getMetricsAsJSON();
  await new Promise<void>((resolve) => {
    process.send!({ cmd: FINAL, metrics } satisfies MetricsMessage, undefined, {}, () => resolve());
  });
}

/** Primary side: the latest snapshot of every worker, and what retired workers counted. */
export class ClusterMetrics {
  private readonly latest = new Map<number, MetricsJson>();
  private retired: MetricsJson = [];
  private nextId = 0;
  private readonly waiting = new Map<number, (m: MetricsJson) => void>();

  /** Call for every worker forked. */
  watch(worker: Worker): void {
    worker.on('message', (msg: unknown) => {
      if (!isMetricsMessage(msg)) return;
      this.latest.set(worker.id, msg.metrics);
      if (msg.cmd === ANSWER && msg.id !== undefined) this.waiting.get(msg.id)?.(msg.metrics);
    });
  }

  /** Call when a worker has exited: its counters join the retired sum. */
  async retire(worker: Worker): Promise<void> {
    const last = this.latest.get(worker.id);
    this.latest.delete(worker.id);
    if (!last) return;
    this.retired = await AggregatorRegistry.aggregate([
      this.retired,
      accumulating(last),
    ]).getMetricsAsJSON();
  }

  private ask(worker: Worker): Promise<void> {
    const id = this.nextId++;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => finish(), ASK_TIMEOUT_MS);
      const finish = (): void => {
        clearTimeout(timer);
        this.waiting.delete(id);
        resolve();
      };
      this.waiting.set(id, finish);
      try {
        worker.send({ cmd: ASK, id });
      } catch {
        finish();
      }
    });
  }

  /** One scrape: asks every live worker, then sums them with the retired counters. */
  async scrape(workers: Worker[]): Promise<{ body: string; contentType: string }> {
    await Promise.all(workers.filter((w) => w.isConnected()).map((w) => this.ask(w)));
    const registry = AggregatorRegistry.aggregate([this.retired, ...this.latest.values()]);
    return { body: await registry.metrics(), contentType: registry.contentType };
  }
}

export async function runPrimary(
  config: Readonly<Config>,
  workers: number,
  logger: Logger,
  configFile?: string,
): Promise<number | undefined> {
  let stopping = false;
  const metrics = new ClusterMetrics();
  const fork = (): Worker => {
    const worker = cluster.fork({ AUTHGATE_CLUSTER_WORKER: '1' });
    metrics.watch(worker);
    return worker;
  };
  for (let i = 0; i < workers; i++) fork();

  let metricsServer: Server | undefined;
  if (config.metrics.port !== 0) {
    metricsServer = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || path !== config.metrics.path) {
        sendNotFound(req, res);
        return;
      }
      void serveScrape(req, res, config.metrics.bearerToken, () =>
        metrics.scrape(Object.values(cluster.workers ?? {}).filter((w) => w !== undefined)),
      );
    });
    await new Promise<void>((resolve, reject) => {
      metricsServer!.once('error', reject);
      metricsServer!.listen(config.metrics.port, config.server.host, () => resolve());
    });
  } else {
    logger.warn('metrics.port is 0 with several workers: each scrape sees one worker only', {});
  }
  logger.info('primary started', {
    pid: process.pid,
    workers,
    metrics_port: config.metrics.port || null,
  });

  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = true;
    logger.info('draining workers', { signal, workers: Object.keys(cluster.workers ?? {}).length });
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill(signal);
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // Reload: every worker reads and checks the file itself, and keeps its config when it fails.
  const reloadWorkers = (trigger: string): void => {
    if (stopping) return;
    const live = Object.values(cluster.workers ?? {});
    logger.info('config reload', { trigger, workers: live.length });
    for (const w of live) w?.send({ cmd: RELOAD });
  };
  process.on('SIGHUP', () => reloadWorkers('SIGHUP'));
  if (config.server.watchConfig && configFile !== undefined) {
    onFilesChange([configFile], systemClock, config.server.watchConfigIntervalMs, () =>
      reloadWorkers('file changed'),
    );
  }
  cluster.on('exit', (worker, code, signal) => {
    void metrics.retire(worker);
    if (!stopping) {
      const replacement = fork();
      logger.warn('worker exited; started a replacement', {
        pid: worker.process.pid,
        exit_code: code,
        signal: signal ?? null,
        replacement_pid: replacement.process.pid,
      });
    } else if (Object.keys(cluster.workers ?? {}).length === 0) {
      logger.info('stopped', { workers: 0 });
      metricsServer?.close();
      process.exit(0);
    }
  });
  return undefined;
}
