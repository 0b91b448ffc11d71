/**
 * Deploy/kubernetes and deploy/ecs, validated offline against the real schemas
 * (kubernetes-models' OpenAPI schemas for Kubernetes and the Prometheus Operator, botocore's AWS
 * API models for ECS and ELBv2), and against the config they ship: a probe path, port or timing
 * that disagrees with config/examples/production.yaml fails here.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { parseConfig } from '../../../src/config/load';
import { ROOT } from '../../helpers/process';

jest.setTimeout(60_000);

const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');
const yamlOf = <T>(p: string): T => parse(read(p)) as T;
// Secrets and upstreams stand in for what the platform supplies at deploy time.
const config = parseConfig(parse(read('config/examples/production.yaml')), {
  REDIS_URL: 'redis://redis:6379',
  AUTHGATE_HASH_SECRET: 'h'.repeat(32),
});
const drainAndGraceMs = config.server.drainDelayMs + config.server.shutdownGraceMs;

interface Probe {
  httpGet: { path: string; port: string };
  periodSeconds: number;
  failureThreshold: number;
}
interface Container {
  args: string[];
  ports: Array<{ name: string; containerPort: number }>;
  readinessProbe: Probe;
  livenessProbe: Probe;
  startupProbe: Probe;
  securityContext: { readOnlyRootFilesystem: boolean; allowPrivilegeEscalation: boolean };
  env: Array<{ name: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
}
interface DeploymentDoc {
  spec: {
    template: {
      spec: {
        terminationGracePeriodSeconds: number;
        securityContext: { runAsNonRoot: boolean };
        containers: Container[];
      };
    };
  };
}

describe('deploy/kubernetes', () => {
  const deployment = yamlOf<DeploymentDoc>('deploy/kubernetes/deployment.yaml');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0]!;
  const portNamed = (name: string) => container.ports.find((p) => p.name === name)?.containerPort;

  /** Runs test/deploy/validate-k8s.mjs (kubernetes-models is ESM-only) over the files. */
  const validateK8s = (...files: string[]) =>
    execFileSync(process.execPath, [join(ROOT, 'test/deploy/validate-k8s.mjs'), ...files], {
      cwd: ROOT,
      encoding: 'utf8',
    })
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { file: string; kind: string; ok: boolean; error?: string });

  it('every manifest is valid against its schema', () => {
    const files = [
      'deployment',
      'service',
      'pdb',
      'hpa',
      'configmap',
      'servicemonitor',
      'ingress',
      'networkpolicy',
    ].map((f) => join(ROOT, `deploy/kubernetes/${f}.yaml`));
    const results = validateK8s(...files);
    expect(results.map((r) => r.kind).sort()).toEqual([
      'apps/v1/Deployment',
      'autoscaling/v2/HorizontalPodAutoscaler',
      'monitoring.coreos.com/v1/ServiceMonitor',
      'networking.k8s.io/v1/Ingress',
      'networking.k8s.io/v1/NetworkPolicy',
      'networking.k8s.io/v1/NetworkPolicy',
      'policy/v1/PodDisruptionBudget',
      'v1/ConfigMap',
      'v1/Service',
    ]);
    expect(results.filter((r) => !r.ok)).toEqual([]);
  });

  it('the Ingress and NetworkPolicy point at the ports the Service and Deployment name', () => {
    const ingress = yamlOf<{
      spec: {
        rules: Array<{
          http: {
            paths: Array<{ backend: { service: { name: string; port: { name: string } } } }>;
          };
        }>;
      };
    }>('deploy/kubernetes/ingress.yaml');
    const backend = ingress.spec.rules[0]!.http.paths[0]!.backend.service;
    expect(backend).toEqual({ name: 'authgate', port: { name: 'http' } });
    const policies = parseAllDocuments(read('deploy/kubernetes/networkpolicy.yaml')).map(
      (d) => d.toJS() as { spec: { ingress: Array<{ ports: Array<{ port: string | number }> }> } },
    );
    const ports = policies[0]!.spec.ingress.flatMap((r) => r.ports.map((p) => p.port));
    expect(ports.sort()).toEqual(['http', 'metrics']);
    for (const name of ['http', 'metrics']) expect(portNamed(name)).toBeDefined();
  });

  it('the schema check can fail (a string replica count is refused)', () => {
    const bad = yamlOf<Record<string, Record<string, unknown>>>(
      'deploy/kubernetes/deployment.yaml',
    );
    bad.spec!.replicas = 'two';
    const file = join(mkdtempSync(join(tmpdir(), 'authgate-k8s-')), 'bad.yaml');
    writeFileSync(file, stringify(bad));
    expect(validateK8s(file)[0]).toMatchObject({
      ok: false,
      error: expect.stringMatching(/replicas must be integer/),
    });
  });

  it('the ConfigMap holds exactly config/examples/production.yaml, and the container reads it', () => {
    const cm = yamlOf<{ data: Record<string, string> }>('deploy/kubernetes/configmap.yaml');
    expect(cm.data['authgate.yaml']).toBe(read('config/examples/production.yaml'));
    // Literal style: a folded (>) block would join a comment line with the key after it.
    expect(read('deploy/kubernetes/configmap.yaml')).toMatch(/^ {2}authgate\.yaml: \|$/m);
    expect(container.args).toEqual(['serve', '--config', '/etc/authgate/authgate.yaml']);
  });

  it('probes and ports agree with the config', () => {
    expect(container.readinessProbe.httpGet).toEqual({
      path: config.server.readyPath,
      port: 'http',
    });
    expect(container.livenessProbe.httpGet).toEqual({
      path: config.server.healthPath,
      port: 'http',
    });
    expect(container.startupProbe.httpGet.path).toBe(config.server.healthPath);
    expect(portNamed('http')).toBe(config.server.port);
    expect(portNamed('metrics')).toBe(config.metrics.port);
    const monitor = yamlOf<{ spec: { endpoints: Array<{ port: string; path: string }> } }>(
      'deploy/kubernetes/servicemonitor.yaml',
    );
    expect(monitor.spec.endpoints[0]).toMatchObject({ port: 'metrics', path: config.metrics.path });
  });

  it('timings: endpoints drop the pod within the drain delay; SIGKILL only after drain + grace', () => {
    const r = container.readinessProbe;
    expect(r.periodSeconds * r.failureThreshold * 1000).toBeLessThanOrEqual(
      config.server.drainDelayMs / 2,
    );
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(drainAndGraceMs);
  });

  it('non-root, read-only root filesystem, no privilege escalation; secrets by reference', () => {
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    const fromSecret = container.env.filter(
      (e) => e.valueFrom?.secretKeyRef?.name === 'authgate-secrets',
    );
    expect(fromSecret.map((e) => e.name).sort()).toEqual([
      'AUTHGATE_HASH_SECRET',
      'JWT_SECRET',
      'REDIS_URL',
    ]);
    // no literal secret: the only literals are the malloc settings (docs/design.md#memory)
    expect(container.env.filter((e) => e.valueFrom === undefined).map((e) => e.name)).toEqual([
      'MALLOC_ARENA_MAX',
      'MALLOC_MMAP_THRESHOLD_',
    ]);
  });
});

describe('deploy/ecs', () => {
  const python = join(ROOT, '.tools/botocore/bin/python');
  beforeAll(() => {
    execFileSync('bash', [join(ROOT, 'scripts/install-botocore.sh')], {
      cwd: ROOT,
      stdio: 'ignore',
    });
  });
  const validate = (service: string, operation: string, file: string): string => {
    try {
      return execFileSync(
        python,
        [join(ROOT, 'test/deploy/validate_aws.py'), service, operation, file],
        {
          cwd: ROOT,
          encoding: 'utf8',
        },
      ).trim();
    } catch (err) {
      return String((err as { stdout?: string }).stdout ?? err).trim();
    }
  };
  const task = JSON.parse(read('deploy/ecs/task-definition.json')) as {
    containerDefinitions: Array<{
      command: string[];
      stopTimeout: number;
      portMappings: Array<{ name: string; containerPort: number }>;
      healthCheck: { command: string[] };
      readonlyRootFilesystem: boolean;
      user: string;
      secrets: Array<{ name: string; valueFrom: string }>;
      logConfiguration: { logDriver: string };
    }>;
  };
  const container = task.containerDefinitions[0]!;
  const tg = JSON.parse(read('deploy/ecs/target-group.json')) as {
    Port: number;
    HealthCheckPath: string;
    HealthCheckIntervalSeconds: number;
    UnhealthyThresholdCount: number;
  };
  const attrs = JSON.parse(read('deploy/ecs/target-group-attributes.json')) as {
    Attributes: Array<{ Key: string; Value: string }>;
  };

  it.each([
    ['ecs', 'RegisterTaskDefinition', 'deploy/ecs/task-definition.json'],
    ['elbv2', 'CreateTargetGroup', 'deploy/ecs/target-group.json'],
    ['elbv2', 'ModifyTargetGroupAttributes', 'deploy/ecs/target-group-attributes.json'],
  ])('%s %s accepts %s', (service, operation, file) => {
    expect(validate(service, operation, join(ROOT, file))).toBe('ok');
  });

  it('the AWS model check can fail (a string stopTimeout is refused)', () => {
    const bad = join(ROOT, 'test/deploy/bad-task-definition.json');
    expect(validate('ecs', 'RegisterTaskDefinition', bad)).toMatch(
      /stopTimeout.*valid types: <class 'int'>/,
    );
  });

  it('the task runs your own config (the whole YAML from an SSM parameter); ports, health check and timings agree with the example', () => {
    // No config baked into the image: $AUTHGATE_CONFIG_YAML holds it (docs/deploy.md).
    expect(container.command).toEqual(['serve']);
    expect(container.secrets.find((s) => s.name === 'AUTHGATE_CONFIG_YAML')?.valueFrom).toMatch(
      /^arn:aws:ssm:[^:]+:\d+:parameter\//,
    );
    const port = (name: string) =>
      container.portMappings.find((p) => p.name === name)?.containerPort;
    expect([port('http'), port('metrics')]).toEqual([config.server.port, config.metrics.port]);
    expect(container.healthCheck.command.join(' ')).toContain(
      `127.0.0.1:${config.server.port}${config.server.healthPath}`,
    );
    expect(container.stopTimeout * 1000).toBeGreaterThan(drainAndGraceMs);
    expect(tg.Port).toBe(config.server.port);
    expect(tg.HealthCheckPath).toBe(config.server.readyPath);
    expect(tg.HealthCheckIntervalSeconds * tg.UnhealthyThresholdCount * 1000).toBeLessThanOrEqual(
      config.server.drainDelayMs,
    );
    const dereg = attrs.Attributes.find((a) => a.Key === 'deregistration_delay.timeout_seconds');
    expect(Number(dereg?.Value) * 1000).toBeGreaterThanOrEqual(drainAndGraceMs);
  });

  it('non-root, read-only root filesystem, logs to CloudWatch, secrets from SSM/Secrets Manager', () => {
    expect(container.user).not.toBe('0');
    expect(container.readonlyRootFilesystem).toBe(true);
    expect(container.logConfiguration.logDriver).toBe('awslogs');
    expect(container.secrets.map((s) => s.name).sort()).toEqual([
      'AUTHGATE_CONFIG_YAML',
      'AUTHGATE_HASH_SECRET',
      'REDIS_URL',
    ]);
    for (const s of container.secrets)
      expect(s.valueFrom).toMatch(/^arn:aws:(ssm|secretsmanager):/);
  });
});
