import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { apiKeyCommand } from './api-key';
import { checkConfigCommand } from './check-config';
import { diagnoseCommand } from './diagnose';
import { serveCommand } from './serve';
import { sessionCommand } from './session';
import { tokenCommand } from './token';
import { smokeTestCommand } from './smoke-test';
import { authgateVersion } from '../server';

const USAGE = `usage:
  authgate serve [--config FILE] [--workers N|auto] [--demo]
  authgate check-config [--config FILE]
  authgate diagnose [--config FILE] [--json]   (checks Redis, JWKS URIs, the API-key service, upstreams)
  authgate token decode [JWT]          (reads stdin without an argument; never verifies)
  authgate token mint [options]        (development only)
  authgate api-key create|list|revoke KEY_ID [--config FILE]   (admin API; $AUTHGATE_ADMIN_TOKEN)
  authgate api-key revoke [--config FILE]   (a raw key on stdin: drops its cached verdicts)
  authgate session list|revoke --user SUB [--config FILE]   (browser sessions, on every instance)
  authgate smoke-test --url URL [--token-env VAR | --api-key-env VAR] [--expect STATUS]
  authgate --version

Config file: --config, else $AUTHGATE_CONFIG, else config/authgate.yaml.`;

/** Removes `--config FILE` / `--config=FILE` from argv. */
function takeConfigFlag(argv: string[]): { config: string | undefined; args: string[] } {
  const args: string[] = [];
  let config: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config') config = argv[++i];
    else if (a.startsWith('--config=')) config = a.slice('--config='.length);
    else args.push(a);
  }
  return { config, args };
}

/** Runs a command; resolves the exit code, or undefined for a server that keeps running. */
export async function runCli(argv: string[]): Promise<number | undefined> {
  const [command, ...rest] = argv;
  if (command !== undefined && (rest.includes('--help') || rest.includes('-h'))) {
    // `authgate serve --help`: that command's lines of the usage.
    const lines = USAGE.split('\n').filter((l) => l.startsWith(`  authgate ${command} `));
    console.log(lines.length > 0 ? `usage:\n${lines.join('\n')}` : USAGE);
    return 0;
  }
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
    case 'session':
      return sessionCommand(rest);
    case 'api-key': {
      // --config is shared; the subcommand parses the rest (create has flags of its own).
      const { config, args } = takeConfigFlag(rest);
      return apiKeyCommand(args, config);
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
