import { redisConfigured } from '../redis';
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { formatPath } from '../config/load';
import { loadCliConfig } from './config-loader';
import { configWarnings } from '../config/checks';
import { startDemoUpstream } from '../demo/demo-upstream';
import { createLoggerFromConfig } from '../logging/logger';
import { startServer, type RunningServer } from '../server';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfigFile, loadConfigText, resolveConfigPath } from '../config/load';
import { fileProblems } from '../config/files';
import type { Config } from '../config/schema';
import { onFilesChange } from '../file-watch';
import { systemClock } from '../clock';
import type { Logger } from '../logging/logger';
import { RELOAD, answerMetricsRequests, runPrimary, sendFinalMetrics } from './cluster';
import { printDemoBanner } from './demo-banner';

export interface ServeOptions {
  configFlag: string | undefined;
  workers: number;
  demo: boolean;
}

export async function serveCommand(options: ServeOptions): Promise<number | undefined> {
  const demo = options.demo
    ? await startDemoUpstream(Number(process.env.AUTHGATE_DEMO_PORT ?? 0))
    : undefined;
  if (demo) {
    process.env.AUTHGATE_UPSTREAM ??= demo.url;
    // A fresh secret per run: a demo must never ship a known signing key.
    process.env.JWT_SECRET ??= randomBytes(32).toString('base64url');
  }
  // The demo runs from any folder: without --config or $AUTHGATE_CONFIG (and no config/ of the
  // caller's own), the packaged config/authgate.yaml.
  const configFlag =
    options.configFlag ??
    (demo &&
    !process.env.AUTHGATE_CONFIG &&
    !process.env.AUTHGATE_CONFIG_YAML &&
    !existsSync(resolveConfigPath(undefined))
      ? join(__dirname, '..', '..', 'config', 'authgate.yaml')
      : undefined);
  const loaded = loadCliConfig(configFlag);
  if (!loaded) {
    await demo?.close();
    return 1;
  }
  const { file, config } = loaded;
  const logger = createLoggerFromConfig(config);
  if (options.workers > 1 && cluster.isPrimary) {
    await demo?.close();
    if (config.auth.oidc && !redisConfigured(config.redis)) {
      // A session made in one worker would be unknown to the others: sign-in would loop.
      console.error(
        `authgate: ${file}: --workers ${options.workers} with auth.oidc needs redis (sessions are shared through it); without redis run one worker`,
      );
      return 1;
    }
    return runPrimary(config, options.workers, logger, file);
  }
  for (const w of configWarnings(config))
    logger.warn('config warning', { path: formatPath(w.path), reason: w.message });
  // A cluster worker leaves /metrics to the primary, which serves the aggregate of all workers.
  let running;
  try {
    running = await startServer(
      config,
      { logger },
      { metricsListener: !(cluster.isWorker && config.metrics.port !== 0) },
    );
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    logger.error('could not start', { code: e.code ?? e.name, reason: e.message });
    await demo?.close();
    return 1;
  }
  if (cluster.isWorker) answerMetricsRequests(running.metrics.registry);
  const stopReloads = reloadOnSignal(file, running, logger, cluster.isWorker);
  logger.info('listening', {
    port: running.port,
    metrics_port: running.metricsPort,
    host: config.server.host,
    config: file,
    routes: config.routes.map((r) => r.name),
    pid: process.pid,
  });
  if (demo && (!cluster.isWorker || cluster.worker?.id === 1))
    printDemoBanner(config, running.port, process.env.JWT_SECRET ?? '');

  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info('draining', {
      signal,
      in_flight: running.app.inFlight(),
      drain_delay_ms: signal === 'SIGINT' ? 0 : config.server.drainDelayMs,
      grace_ms: config.server.shutdownGraceMs,
    });
    stopReloads();
    // Ctrl-C is a person at a terminal, not a load balancer: no drain delay.
    void running.shutdown(signal === 'SIGINT' ? 0 : undefined).then(async (drained) => {
      logger.info('stopped', { drained });
      await demo?.close();
      // The primary keeps what this worker counted once it is gone.
      if (cluster.isWorker) await sendFinalMetrics(running.metrics.registry);
      process.exit(0);
    });
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  return undefined;
}

/** Where an inline config (the whole YAML in an environment variable) comes from. */
const INLINE = '$AUTHGATE_CONFIG_YAML';

/** The config's text: the file's, or $AUTHGATE_CONFIG_YAML's. */
function configText(file: string): string {
  return file === INLINE ? (process.env.AUTHGATE_CONFIG_YAML ?? '') : readFileSync(file, 'utf8');
}

/** sha256 of the config's bytes, first 12 hex: `authgate_config_info{hash}`. */
export function configHash(file: string): string {
  try {
    return createHash('sha256').update(configText(file)).digest('hex').slice(0, 12);
  } catch {
    return 'unreadable';
  }
}

/** The config read and checked as `serve` and `check-config` read it; the problems if not. */
export function readConfigForReload(
  file: string,
): { config: Readonly<Config> } | { problems: string[] } {
  try {
    const config =
      file === INLINE
        ? loadConfigText(configText(file), file, process.env)
        : loadConfigFile(file, process.env);
    const problems = fileProblems(config);
    if (problems.length > 0) return { problems: problems.map((p) => `${p.path}: ${p.reason}`) };
    return { config };
  } catch (err) {
    if (err instanceof ConfigError)
      return { problems: err.problems.map((p) => `${p.path || '(root)'}: ${p.reason}`) };
    return { problems: [err instanceof Error ? err.message : String(err)] };
  }
}

/**
 * Reloads (docs/operations.md, "Reload"): on SIGHUP, on a change of the file with
 * `server.watchConfig`, and in a cluster worker when the primary says so. One at a time; a
 * config that does not load or build keeps the running one, with one error line.
 */
function reloadOnSignal(
  file: string,
  running: RunningServer,
  logger: Logger,
  worker: boolean,
): () => void {
  running.metrics.configInForce(configHash(file));
  let chain: Promise<unknown> = Promise.resolve();
  const reload = (trigger: string): void => {
    chain = chain.then(async () => {
      logger.info('config reload', { trigger, config: file });
      const hash = configHash(file);
      const read = readConfigForReload(file);
      if ('problems' in read) {
        running.metrics.configReloads.labels('failure').inc();
        logger.error('config reload failed; the running config stays', {
          trigger,
          problems: read.problems,
        });
        return;
      }
      for (const w of configWarnings(read.config))
        logger.warn('config warning', { path: formatPath(w.path), reason: w.message });
      await running.reload(read.config, hash);
    });
  };
  const onHup = (): void => reload('SIGHUP');
  process.on('SIGHUP', onHup);
  const onMessage = (msg: { cmd?: unknown }): void => {
    if (msg?.cmd === RELOAD) reload('primary');
  };
  if (worker) process.on('message', onMessage);
  // Workers leave watching to the primary, which tells each of them.
  let stopWatch: (() => void) | undefined;
  if (running.config.server.watchConfig && !worker) {
    stopWatch = onFilesChange(
      [file],
      systemClock,
      running.config.server.watchConfigIntervalMs,
      () => reload('file changed'),
    );
  }
  return () => {
    process.off('SIGHUP', onHup);
    process.off('message', onMessage);
    stopWatch?.();
  };
}
