import { describeRedis, redisConfigured } from '../redis';
import { ConfigError, formatPath, loadConfigFile, resolveConfigPath } from '../config/load';
import { configWarnings } from '../config/checks';

/** Exit 0 when valid; exit 1 listing every problem (path + reason). Values are never printed. */
export function checkConfigCommand(configFlag: string | undefined): number {
  const file = resolveConfigPath(configFlag);
  try {
    const config = loadConfigFile(file);
    console.log(
      `${file}: OK — ${config.routes.length} route(s), ${config.auth.jwt.issuers.length} JWT issuer(s), ` +
        `API keys ${config.auth.apiKeys ? 'on' : 'off'}, Redis ${redisConfigured(config.redis) ? `on (${describeRedis(config.redis)})` : 'off (in-process stores)'}`,
    );
    for (const w of configWarnings(config))
      console.log(`  warning: ${formatPath(w.path)}: ${w.message}`);
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`${file}: ${err.problems.length} problem(s)`);
    for (const p of err.problems) console.error(`  ${p.path || '(root)'}: ${p.reason}`);
    return 1;
  }
}
