import { availableParallelism } from 'node:os';
import { apiKeyCommand } from './api-key';
import { UsageError, parseFlags } from './args';
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
  authgate diagnose [--config FILE] [--json]
  authgate token decode [JWT]
  authgate token mint [--secret S | --secret-env VAR | --key PEM] [--alg A] [--iss I] [--sub S] [--aud A] [--scope "S ..."] [--tenant T ...] [--ttl SEC] [--kid KID]
  authgate api-key create --name N --scopes S [S ...] [--tenant T ...] [--service-id ID] [--environment E] [--config FILE]
  authgate api-key list [--config FILE]
  authgate api-key revoke [KEY_ID] [--config FILE]
  authgate session list|revoke --user SUB [--config FILE] [--json]
  authgate smoke-test --url URL [--token-env VAR | --api-key-env VAR] [--expect STATUS] [--timeout-ms MS]
  authgate --version

Run "authgate COMMAND --help" for its flags. Config file: --config, else $AUTHGATE_CONFIG, else
config/authgate.yaml. Exit codes: 0 done, 1 ran and failed (a check, a refused call, config
problems), 2 usage error (an unknown flag, a missing value).`;

/** Each command's flags, for `authgate COMMAND --help`. */
const FLAGS: Record<string, string> = {
  serve: `  --config FILE      the config file
  --workers N|auto   N processes sharing the port (auto: one per CPU); default 1
  --demo             with the demo config and an embedded demo upstream (no other service)`,
  'check-config': `  --config FILE      the config file; every problem is listed, values never shown`,
  diagnose: `  --config FILE      the config file
  --json             one JSON document instead of lines (Redis, JWKS, auth service, OIDC provider, upstreams)`,
  token: `  decode [JWT]       header and claims of a JWT (stdin without an argument); never verifies
  mint               a development token:
    --secret S | --secret-env VAR   HMAC secret (HS256/384/512), or from an environment variable
    --key PEM          private key file (RS256, ES256, PS256 ...)
    --alg A            default HS256
    --iss I            default authgate-dev (match auth.jwt.issuers[].issuer)
    --sub S            default dev-user
    --aud A            default authgate (match the issuer's audience)
    --scope "S ..."    space-separated scopes, default "demo:read demo:write"
    --tenant T ...     tenants (repeat, space- or comma-separated)
    --ttl SEC          lifetime, default 3600
    --kid KID          the key id in the header (match the JWKS)`,
  'api-key': `  create --name N --scopes S [S ...] [--tenant T ...] [--service-id ID] [--environment E]
  list
  revoke KEY_ID      deletes the key at the auth service and drops it from every instance's cache
  revoke < key       a raw key on stdin: drops its cached verdicts only
  --config FILE      the config file (auth.apiKeys.adminUrl; the token from $AUTHGATE_ADMIN_TOKEN)`,
  session: `  list|revoke --user SUB   a user's browser sessions, on every instance (Redis)
  --json             list as JSON
  --config FILE      the config file`,
  'smoke-test': `  --url URL          a route of a running authgate
  --token-env VAR    a bearer token from this environment variable
  --api-key-env VAR  an API key from this environment variable
  --expect STATUS    the status that counts as success (default any 2xx)
  --timeout-ms MS    default 5000`,
};

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
    // `authgate serve --help`: that command's usage lines and flags.
    const lines = USAGE.split('\n').filter((l) => l.startsWith(`  authgate ${command} `));
    if (lines.length === 0) {
      console.log(USAGE);
      return 0;
    }
    console.log(`usage:\n${lines.join('\n')}\n\nflags:\n${FLAGS[command] ?? ''}`);
    return 0;
  }
  try {
    return await run(command, rest);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    const lines = USAGE.split('\n').filter((l) => l.startsWith(`  authgate ${command} `));
    console.error(
      `authgate ${command}: ${err.message}\nusage:\n${lines.join('\n')}\n(authgate ${command} --help for the flags)`,
    );
    return 2;
  }
}

async function run(command: string | undefined, rest: string[]): Promise<number | undefined> {
  switch (command) {
    case 'serve': {
      const { values } = parseFlags(rest, {
        config: { type: 'string' },
        workers: { type: 'string' },
        demo: { type: 'boolean', default: false },
      });
      const workers =
        values.workers === undefined
          ? 1
          : values.workers === 'auto'
            ? availableParallelism()
            : Number(values.workers);
      if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
        throw new UsageError('--workers must be "auto" or a whole number from 1 to 64');
      }
      return serveCommand({ configFlag: values.config, workers, demo: values.demo });
    }
    case 'check-config': {
      const { values } = parseFlags(rest, { config: { type: 'string' } });
      return checkConfigCommand(values.config);
    }
    case 'diagnose': {
      const { values } = parseFlags(rest, {
        config: { type: 'string' },
        json: { type: 'boolean', default: false },
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
