/**
 * The real MLflow Python client through authgate to the real MLflow server — with a
 * JWT, then with an API key, both as MLFLOW_TRACKING_TOKEN. Asserts on what the server recorded
 * and on the X-User-ID, X-Request-ID and Authorization it received (its gunicorn access log).
 */
import { startAuthService, type AuthService } from '../../helpers/auth-service';
import { sign } from '../../helpers/jwks';
import {
  MLFLOW_VERSION,
  runClient,
  sharedMlflowServer,
  type MlflowServer,
} from '../../helpers/mlflow';
import { memoryKb, resetPeakRss, spawnProxy, type ProxyProcess } from '../../helpers/process';
import { freePort } from '../../helpers/servers';

const SECRET = 'mlflow-flow-secret-0123456789abcdefghij';
const ALL = 'mlflow:read mlflow:edit mlflow:manage';
const API_KEY = 'hok_live_mlflowflowkey0123456789';

jest.setTimeout(300_000);

describe(`the real MLflow ${MLFLOW_VERSION} client and server through authgate`, () => {
  let mlflow: MlflowServer;
  let service: AuthService;
  let proxy: ProxyProcess;

  beforeAll(async () => {
    mlflow = sharedMlflowServer('plain');
    service = await startAuthService();
    service.keys.set(API_KEY, { user_id: 'svc-bot', scopes: ALL.split(' ') });
    proxy = await spawnProxy({
      // an ephemeral port: the default 8080 may be taken on a shared machine
      server: { port: await freePort(), host: '127.0.0.1' },
      auth: {
        jwt: {
          issuers: [{ issuer: 'idp', audience: 'mlflow', algorithms: ['HS256'], secret: SECRET }],
        },
        apiKeys: { prefixes: ['hok_live_'], validateUrl: service.url },
      },
      routes: [
        {
          name: 'mlflow',
          prefix: '/',
          upstream: mlflow.url,
          preset: 'mlflow',
          timeouts: { responseMs: 300_000 },
        },
      ],
    });
  });
  afterAll(async () => {
    proxy?.child.kill('SIGTERM');
    await proxy?.exited;
    await service?.close();
  });

  const get = async (path: string): Promise<Record<string, unknown>> =>
    (await (await fetch(`${mlflow.url}${path}`)).json()) as Record<string, unknown>;

  // The API-key run goes first with a small artifact: it also warms authgate's code paths, so
  // the 200 MB run measures streaming, not first-use allocations.
  it.each([
    ['an API key', () => API_KEY, 'svc-bot', 20],
    [
      'a JWT',
      () => sign(SECRET, { iss: 'idp', aud: 'mlflow', sub: 'flow-alice', claims: { scope: ALL } }),
      'flow-alice',
      200,
    ],
  ])(
    'with %s: experiment, run, params, metrics, batch, artifact up and down, model, search, delete',
    async (_n, credential, user, mb) => {
      const token = credential();
      const peakReset = resetPeakRss(proxy.pid);
      const rssBefore = memoryKb(proxy.pid).rss;
      const r = await runClient(['flow'], {
        MLFLOW_TRACKING_URI: `http://127.0.0.1:${proxy.port}`,
        MLFLOW_TRACKING_TOKEN: token,
        ARTIFACT_MB: String(mb),
      });
      expect(r.stderr).not.toMatch(/Traceback/);
      expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr.slice(-2000) }).toEqual({
        code: 0,
        stderr: '',
      });
      const out = r.json as Record<string, string & string[]>;
      const growthMb = (memoryKb(proxy.pid).hwm - rssBefore) / 1024;
      console.log(
        `MLflow flow with ${_n}: ${mb} MB artifact up and down, authgate RSS growth ${growthMb.toFixed(1)} MB (peak reset: ${peakReset})`,
      );

      // the artifact came back byte for byte, and authgate's memory stayed flat
      expect(out.downloaded_sha256).toBe(out.uploaded_sha256);
      if (peakReset) expect(growthMb).toBeLessThan(64);

      // what the MLflow server recorded
      const run = (await get(`/api/2.0/mlflow/runs/get?run_id=${out.run_id}`)).run as {
        data: {
          params: Array<{ key: string; value: string }>;
          metrics: Array<{ key: string }>;
          tags: Array<{ key: string; value: string }>;
        };
        info: { status: string };
      };
      expect(run.data.params).toEqual(
        expect.arrayContaining([
          { key: 'alpha', value: '0.5' },
          { key: 'beta', value: '2' },
        ]),
      );
      expect(run.data.metrics.map((m) => m.key).sort()).toEqual(['accuracy', 'loss']);
      expect(run.data.tags).toContainEqual({ key: 'team', value: 'platform' });
      expect(run.info.status).toBe('FINISHED');
      const deleted = (await get(`/api/2.0/mlflow/runs/get?run_id=${out.deleted_run_id}`)).run as {
        info: { lifecycle_stage: string };
      };
      expect(deleted.info.lifecycle_stage).toBe('deleted');
      const version = (await get(
        `/api/2.0/mlflow/model-versions/get?name=${out.model_name}&version=${out.model_version}`,
      )) as { model_version: { run_id: string } };
      expect(version.model_version.run_id).toBe(out.run_id);
      expect(out.search_hits).toEqual([out.run_id]);
      const files = (await get(
        `/api/2.0/mlflow/artifacts/list?run_id=${out.run_id}&path=model`,
      )) as { files: Array<{ path: string; file_size: number }> };
      expect(files.files).toEqual([
        expect.objectContaining({ path: 'model/model.bin', file_size: mb * 1024 * 1024 }),
      ]);

      // what the MLflow server received: every request through authgate for this caller (the
      // server is shared by the tier; the caller's user and token are this test's alone) carried
      // the caller's Authorization untouched, authgate's X-User-ID and a sane X-Request-ID
      const seen = mlflow
        .seen()
        .filter((s) => s.userId === user || s.authorization === `Bearer ${token}`);
      expect(seen.length).toBeGreaterThan(10);
      for (const s of seen) {
        expect(s.authorization).toBe(`Bearer ${token}`);
        expect(s.userId).toBe(user);
        expect(s.requestId).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
      }
      expect(new Set(seen.map((s) => s.requestId)).size).toBe(seen.length);
      expect(seen.map((s) => s.path)).toEqual(
        expect.arrayContaining([
          '/api/2.0/mlflow/runs/log-batch',
          `/api/2.0/mlflow-artifacts/artifacts/${out.experiment_id}/${out.run_id}/artifacts/model/model.bin`,
        ]),
      );
    },
  );
});
