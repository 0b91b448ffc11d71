/**
 * The MLflow preset must know every endpoint the installed MLflow server serves and
 * classify it as MLflow's own permission model (mlflow.server.auth) does, so it cannot fall
 * behind a new MLflow release: test/mlflow/endpoints.py lists the server's Flask URL map and
 * FastAPI routes with the permission each of MLflow's validators checks.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfigFile } from '../../../src/config/load';
import { classifyMlflowRequest } from '../../../src/presets/mlflow';
import { RouteTable } from '../../../src/routes/route-table';
import { MLFLOW_VERSION, PYTHON } from '../../helpers/mlflow';
import { ROOT } from '../../helpers/process';

interface Endpoint {
  rule: string;
  path: string;
  method: string;
  validator: string | null;
  mlflow_class: 'read' | 'edit' | 'manage' | null;
}

jest.setTimeout(120_000);

describe(`the MLflow preset covers MLflow ${MLFLOW_VERSION}`, () => {
  let endpoints: Endpoint[];
  beforeAll(async () => {
    const { stdout } = await promisify(execFile)(PYTHON, [join(ROOT, 'test/mlflow/endpoints.py')], {
      maxBuffer: 16 * 1024 * 1024,
    });
    const parsed = JSON.parse(stdout) as { version: string; endpoints: Endpoint[] };
    expect(parsed.version).toBe(MLFLOW_VERSION);
    endpoints = parsed.endpoints;
  });

  it('enumerates the server (Flask URL map and FastAPI routes)', () => {
    expect(endpoints.length).toBeGreaterThan(400);
    expect(endpoints.some((e) => e.rule === '/api/2.0/mlflow/runs/log-batch')).toBe(true);
    expect(endpoints.some((e) => e.rule === '/v1/traces')).toBe(true);
  });

  it('knows every endpoint (none falls to the unknown → manage default)', () => {
    const unknown = endpoints
      .filter((e) => !classifyMlflowRequest(e.method, e.path).known)
      .map((e) => `${e.method} ${e.rule}`);
    expect(unknown).toEqual([]);
  });

  it("classifies every endpoint MLflow guards as MLflow's auth app does", () => {
    const guarded = endpoints.filter((e) => e.mlflow_class !== null);
    expect(guarded.length).toBeGreaterThan(300);
    const differ = guarded
      .filter((e) => classifyMlflowRequest(e.method, e.path).permission !== e.mlflow_class)
      .map(
        (e) =>
          `${e.method} ${e.rule}: MLflow ${e.mlflow_class} (${e.validator}), preset ${classifyMlflowRequest(e.method, e.path).permission}`,
      );
    expect(differ).toEqual([]);
  });

  it('config/examples/mlflow.yaml sends every path MLflow serves to a preset route', () => {
    const config = loadConfigFile(join(ROOT, 'config/examples/mlflow.yaml'), {});
    const routes = new RouteTable(config.routes);
    const uncovered = endpoints
      .filter((e) => {
        const route = routes.match(e.path);
        return route.config.preset !== 'mlflow' || route.config.auth !== 'required';
      })
      .map((e) => `${e.method} ${e.rule}`);
    expect(uncovered).toEqual([]);
  });
});
