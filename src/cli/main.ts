import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { apiKeyCommand } from './api-key';
import { checkConfigCommand } from './check-config';
import { diagnoseCommand } from './diagnose';
import { serveCommand } from './serve';
import { tokenCommand } from './token';
import { smokeTestCommand } from './smoke-test';
import { authgateVersion } from '../server';

const USAGE = `usage:
  authgate serve [--config FILE] [--workers N|auto] [--demo]
  authgate check-config [--config FILE]
  authgate diagnose [--config FILE] [--json]   (checks Redis, JWKS URIs, the API-key service, upstreams)
  authgate token decode [JWT]          (reads stdin without an argument; never verifies)
  authgate token mint [options]        (development only)
  authgate api-key revoke [--config FILE]   (key on stdin; drops it on every instance)
  authgate smoke-test --url URL [--token-env VAR | --api-key-env VAR] [--expect STATUS]
  authgate --version

Config file: --config, else $AUTHGATE_CONFIG, else config/authgate.yaml.`;

/** Runs a command; resolves the exit code, or undefined for a server that keeps running. */
export async function runCli(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve': {
      const { values } = parseArgs({
        args: rest,
        options: {
          config: { type: 'string' },
          workers: { type: 'string' },
          demo: { type: 'boolean', default: false },
        },
      });
      const workers =
        values.workers === undefined
          ? 1
          : values.workers === 'auto'
            ? availableParallelism()
            : Number(values.workers);
      if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
        console.error('authgate: --workers must be "auto" or a whole number from 1 to 64');
        return 2;
      }
      return serveCommand({ configFlag: values.config, workers, demo: values.demo });
    }
    case 'check-config': {
      const { values } = parseArgs({ args: rest, options: { config: { type: 'string' } } });
      return checkConfigCommand(values.config);
    }
    case 'diagnose': {
      const { values } = parseArgs({
        args: rest,
        options: { config: { type: 'string' }, json: { type: 'boolean', default: false } },
      });
      return diagnoseCommand(values.config, values.json);
    }
    case 'token':
      return tokenCommand(rest);
    case 'smoke-test':
      return smokeTestCommand(rest);
    case 'api-key': {
      const { values, positionals } = parseArgs({
        args: rest,
        options: { config: { type: 'string' } },
        allowPositionals: true,
      });
      return apiKeyCommand(positionals, values.config);
    }
    case '--version':
    case '-v':
    case 'version':
      console.log(authgateVersion());
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE);
      return command === undefined ? 2 : 0;
    default:
      console.error(`authgate: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}
