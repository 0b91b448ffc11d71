/**
 * deploy/mlflow-permissions: the two containers of docs/mlflow-permissions.md agree with each
 * other and with what the e2e tier proves — authgate's config passes the real loader, MLflow
 * publishes no port and sits on an internal network only authgate joins, and MLflow's auth
 * config names authgate-mlflow with the route's name as audience and authgate's JWKS path.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { parseConfig } from '../../../src/config/load';
import { ROOT } from '../../helpers/process';

const DIR = 'deploy/mlflow-permissions';
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');

interface Compose {
  services: Record<string, { ports?: string[]; networks: string[] }>;
  networks: Record<string, { internal?: boolean }>;
}

function ini(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section = '';
  for (const line of text.split('\n')) {
    const s = /^\[(.+)\]$/.exec(line.trim());
    if (s) out[(section = s[1] as string)] = {};
    const kv = /^([a-z_]+)\s*=\s*(.*)$/.exec(line.trim());
    if (kv && section) (out[section] as Record<string, string>)[kv[1] as string] = kv[2] as string;
  }
  return out;
}

describe('deploy/mlflow-permissions', () => {
  const config = parseConfig(parse(read(`${DIR}/authgate.yaml`)), {
    OIDC_CLIENT_SECRET: 'client-secret-0123456789',
  });
  const route = config.routes[0]!;
  const auth = ini(read(`${DIR}/mlflow-auth.ini`));
  const compose = parse(read(`${DIR}/compose.yaml`)) as Compose;

  it('authgate: the MLflow route has the preset, mlflowPermissions, the assertion and no caller credential', () => {
    expect(route).toMatchObject({
      preset: 'mlflow',
      mlflowPermissions: true,
      identityAssertion: true,
      forwardCredentials: false,
    });
    expect(config.identityAssertion?.keyFile).toBeDefined();
  });

  it("MLflow's auth config: authgate-mlflow, the route's name as audience, authgate's JWKS and issuer", () => {
    expect(auth.mlflow?.authorization_function).toBe('authgate_mlflow:authenticate_request');
    expect(auth.authgate?.audience).toBe(route.name);
    expect(auth.authgate?.issuer).toBe(config.identityAssertion?.issuer);
    expect(new URL(auth.authgate?.jwks_url ?? '').pathname).toBe(
      config.identityAssertion?.jwksPath,
    );
    expect(auth.mlflow?.admin_password).toBeUndefined();
  });

  it('MLflow is reachable only from authgate: no published port, an internal network', () => {
    expect(compose.services.mlflow?.ports).toBeUndefined();
    expect(compose.services.mlflow?.networks).toEqual(['internal']);
    expect(compose.networks.internal).toEqual({ internal: true });
    expect(compose.services.authgate?.networks).toContain('internal');
    expect(new URL(route.upstream ?? '').hostname).toBe('mlflow');
  });

  it('the MLflow image pins the MLflow version the tests run', () => {
    const version = read('test/mlflow/MLFLOW_VERSION').trim();
    expect(read(`${DIR}/mlflow.Dockerfile`)).toContain(`"mlflow[auth]==${version}"`);
  });
});
