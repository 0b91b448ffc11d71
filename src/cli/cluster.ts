/**
 * `serve --workers N|auto` (issue 10.3): the primary forks N workers that share the listener,
 * replaces a worker that dies (one JSON line with its exit code or signal), serves `/metrics`
 * as the aggregate of every worker (prom-client's AggregatorRegistry: a scrape never sees one
 * worker's counters alone), and on SIGTERM/SIGINT drains every worker, then exits 0.
 */
import cluster, { type Worker } from 'node:cluster';
import { createServer, type Server } from 'node:http';
import { AggregatorRegistry } from 'prom-client';
import type { Config } from '../config/schema';
import type { Logger } from '../logging/logger';
import { serveScrape } from '../metrics';

export async function runPrimary(
  config: Readonly<Config>,
  workers: number,
  logger: Logger,
): Promise<number | undefined> {
  let stopping = false;
  const fork = (): Worker => cluster.fork({ AUTHGATE_CLUSTER_WORKER: '1' });
  for (let i = 0; i < workers; i++) fork();

  const aggregator = new AggregatorRegistry();
  let metricsServer: Server | undefined;
  if (config.metrics.port !== 0) {
    metricsServer = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' || path !== config.metrics.path) {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found\n');
        return;
      }
      void serveScrape(req, res, config.metrics.bearerToken, async () => ({
        body: await aggregator.clusterMetrics(),
        contentType: aggregator.contentType,
      }));
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
  cluster.on('exit', (worker, code, signal) => {
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
