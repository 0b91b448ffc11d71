import { describeRedis, redisConfigured } from '../redis';
import { formatPath } from '../config/load';
import { loadCliConfig } from './config-loader';
import { configWarnings } from '../config/checks';

/** Exit 0 when valid; exit 1 listing every problem (path + reason). Values are never printed. */
export function checkConfigCommand(configFlag: string | undefined): number {
  const loaded = loadCliConfig(configFlag);
  if (!loaded) return 1;
  const { file, config } = loaded;
  console.log(
    `${file}: OK — ${config.routes.length} route(s), ${config.auth.jwt.issuers.length} JWT issuer(s), ` +
      `API keys ${config.auth.apiKeys ? 'on' : 'off'}, ` +
      `browser sign-in ${config.auth.oidc ? `on (${config.auth.oidc.issuer})` : 'off'}, Redis ${redisConfigured(config.redis) ? `on (${describeRedis(config.redis)})` : 'off (in-process stores)'}`,
  );
  for (const w of configWarnings(config))
    console.log(`  warning: ${formatPath(w.path)}: ${w.message}`);
  return 0;
}
