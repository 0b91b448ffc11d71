/**
 * The real MLflow client through authgate to the real MLflow server, traced: every REST call
 * of the client's flow is a SERVER span of the `mlflow` route with its upstream CLIENT span, as
 * decoded by an OTLP receiver using the official protobuf definitions, with the same trace id
 * as the request's access line.
 */
import { sign } from '../../helpers/jwks';
import { runClient, sharedMlflowServer, type MlflowServer } from '../../helpers/mlflow';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../../helpers/otlp';
import { spawnProxy, type ProxyProcess } from '../../helpers/process';
import { waitFor } from '../../helpers/wait';

const SECRET = 'mlflow-tracing-secret-0123456789abcdefgh';

jest.setTimeout(180_000);

describe('the MLflow client through authgate, traced', () => {
  let mlflow: MlflowServer;
  let receiver: OtlpReceiver;
  let proxy: ProxyProcess;

  beforeAll(async () => {
    mlflow = sharedMlflowServer('plain');
    receiver = await startOtlpReceiver();
    proxy = await spawnProxy({
      server: { port: 0, host: '127.0.0.1' },
      tracing: { otlpEndpoint: receiver.url, sampleRatio: 1, exportDelayMs: 50 },
      auth: { jwt: { issuers: [{ issuer: 'ml', algorithms: ['HS256'], secret: SECRET }] } },
      routes: [{ name: 'mlflow', prefix: '/', upstream: mlflow.url, preset: 'mlflow' }],
    });
  });

  afterAll(async () => {
    proxy?.child.kill('SIGTERM');
    await proxy?.exited;
    await receiver?.stop();
  });

  it('every call of the client flow is a trace: SERVER span, authentication, upstream', async () => {
    const token = sign(SECRET, {
      iss: 'ml',
      sub: 'trainer',
      claims: { scope: 'mlflow:read mlflow:edit mlflow:manage' },
    });
    const r = await runClient(['flow'], {
      MLFLOW_TRACKING_URI: proxy.url,
      MLFLOW_TRACKING_TOKEN: token,
      ARTIFACT_MB: '1',
      FLOW_SUFFIX: 'traced',
    });
    expect({ code: r.code, stderr: r.code === 0 ? '' : r.stderr.slice(-2000) }).toEqual({
      code: 0,
      stderr: '',
    });
    const requests = proxy.stdout
      .filter((l) => l.includes('"type":"access"'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(requests.length).toBeGreaterThan(5);
    let spans: ReceivedSpan[] = [];
    await waitFor('every request of the flow as a SERVER span', async () => {
      spans = await receiver.spans();
      const servers = spans.filter((s) => s.kind === 'SPAN_KIND_SERVER');
      return requests.every((a) =>
        servers.some((s) => s.attributes['authgate.request_id'] === a.request_id),
      );
    });
    for (const access of requests) {
      const server = spans.find((s) => s.attributes['authgate.request_id'] === access.request_id)!;
      expect(server.traceId).toBe(access.trace_id);
      expect(server.attributes).toMatchObject({
        'authgate.route': 'mlflow',
        'authgate.auth_method': 'jwt',
        'http.response.status_code': String(access.status),
      });
      const children = spans.filter((s) => s.parentSpanId === server.spanId).map((s) => s.name);
      expect(children).toEqual(expect.arrayContaining(['authenticate', 'upstream']));
    }
    // The artifact upload is one of them, with MLflow's answer on its upstream span.
    const upload = requests.find((a) => a.method === 'PUT');
    expect(upload).toBeDefined();
    console.log(
      `the MLflow client flow: ${requests.length} requests, ${spans.length} spans exported`,
    );
  });
});
