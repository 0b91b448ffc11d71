/**
 * The MLflow preset (`preset: mlflow`, docs/design.md#mlflow-preset): every endpoint the MLflow tracking server
 * serves gets a permission — read, edit or manage — the way MLflow's own permission model
 * (mlflow.server.auth) classifies it: reads (GET and the POST-based search/get calls) need
 * read; creating and updating experiments, runs, metrics, params, tags, artifact uploads,
 * models and versions need edit; deleting, restoring and admin-only features need manage.
 *
 * Rules are matched on the path MLflow sees (after `stripPrefix`), with the API prefix
 * (`/api/2.0/`, `/api/3.0/`, `/ajax-api/2.0/`, `/ajax-api/3.0/`) removed; the first rule that
 * matches the method and the path decides. An endpoint no rule knows needs manage, and
 * test/e2e/mlflow/preset-coverage.test.ts enumerates the installed MLflow server's
 * endpoints and fails on any the rules do not know or classify differently from MLflow.
 */

export type MlflowPermission = 'read' | 'edit' | 'manage';

export interface MlflowClassification {
  permission: MlflowPermission;
  /** False when no rule knew the endpoint (it then needs manage). */
  known: boolean;
  /**
   * MLflow itself lets only its admins do this (user administration, roles, webhooks,
   * workspaces ...): with `mlflowPermissions` it needs the admin scope, where every other
   * write needs edit and MLflow's permission app decides per resource.
   */
  adminOnly: boolean;
}

/** The scope class a request needs with `mlflowPermissions: true` (docs/mlflow-permissions.md). */
export type MlflowAppPermission = 'read' | 'edit' | 'admin';

/**
 * [methods ("GET|POST", "*"), pattern, permission, "admin" when MLflow allows it only to its
 * admins]; in a pattern `*` is one segment, `**` any.
 */
type Rule =
  | readonly [string, string, MlflowPermission]
  | readonly [string, string, MlflowPermission, 'admin'];

/** Endpoint families of the tracking server, below `mlflow/`. A new family is unknown → manage. */
const FAMILIES = [
  'experiments',
  'runs',
  'metrics',
  'artifacts',
  'model-versions',
  'registered-models',
  'logged-models',
  'traces',
  'datasets',
  'gateway',
  'scorers',
  'scorer',
  'issues',
  'label-schemas',
  'review-queues',
  'prompt-optimization',
  'assistant',
  'mcp-servers',
  'genai',
].join('|');

/** Paths without an API prefix (the UI, its assets, artifact downloads, GraphQL, gateway). */
const TOP_LEVEL: readonly Rule[] = [
  ['GET', '', 'read'],
  ['GET', 'static-files/**', 'read'],
  ['GET', 'build/**', 'read'],
  ['GET', 'favicon.ico', 'read'],
  ['GET', 'health', 'read'],
  ['GET', 'version', 'read'],
  // MLflow's basic-auth sign-up page (MLflow guards it like creating a user).
  ['GET', 'signup', 'edit'],
  ['GET', 'get-artifact', 'read'],
  ['GET', 'model-versions/get-artifact', 'read'],
  // GraphQL serves the UI's read queries (MLflow guards it as a read when its auth is on).
  ['GET|POST', 'graphql', 'read'],
  // OTLP trace ingestion logs traces: an update.
  ['POST', 'v1/traces', 'edit'],
  // The AI gateway: listing models reads, invoking an endpoint uses it (MLflow: "use" ≥ edit).
  ['GET', 'gateway/mlflow/v1/models', 'read'],
  ['POST', 'gateway/**', 'edit'],
];

/** Paths after the API prefix. Order matters: exceptions first, then verbs, then methods. */
const API: readonly Rule[] = [
  // MLflow's basic-auth app: users, roles, permissions. Reading oneself and signing up as
  // MLflow allows; every other change to users, roles or grants is manage.
  ['GET', 'mlflow/users/current', 'read'],
  ['GET', 'mlflow/users/current/permissions', 'read'],
  ['POST', 'mlflow/users/create|create-ui', 'edit', 'admin'],
  ['PATCH', 'mlflow/users/update-password', 'edit', 'admin'],
  ['GET', 'mlflow/users/get|list', 'read'],
  ['GET', 'mlflow/users/permissions/get|list', 'read'],
  ['GET', 'mlflow/users/roles/list', 'read'],
  ['GET', 'mlflow/roles/get|list', 'read'],
  ['GET', 'mlflow/roles/permissions/list', 'read'],
  // Granting and revoking a resource's permissions: MLflow asks MANAGE on that resource.
  ['POST', 'mlflow/users/permissions/grant|revoke', 'manage'],
  ['*', 'mlflow/users/**', 'manage', 'admin'],
  ['*', 'mlflow/roles/**', 'manage', 'admin'],
  // Admin-only in MLflow.
  ['*', 'mlflow/webhooks/**', 'manage', 'admin'],
  ['GET', 'mlflow/workspaces/**', 'read'],
  ['*', 'mlflow/workspaces/**', 'manage', 'admin'],
  ['POST', 'mlflow/demo/generate', 'read'],
  ['*', 'mlflow/demo/delete', 'manage', 'admin'],
  ['POST', 'jobs/search', 'read'],
  ['*', 'jobs/**', 'manage'],
  ['*', 'mlflow/jobs/**', 'manage'],
  ['GET', 'mlflow/gateway/guardrails/list-for-endpoint', 'read'],
  ['*', 'mlflow/gateway/guardrails/add-to-endpoint|remove-from-endpoint|update-config', 'edit'],
  ['*', 'mlflow/gateway/guardrails/**', 'manage', 'admin'],
  ['*', 'mlflow/gateway/budgets/create|update|delete', 'manage', 'admin'],
  ['*', 'mlflow/label-schemas/update', 'manage'],
  ['PUT', 'mlflow/assistant/config', 'manage', 'admin'],
  ['*', 'mlflow/assistant/skills/**', 'manage', 'admin'],
  // Tag and record deletions MLflow counts as updates of their resource.
  ['*', 'mlflow/experiments/delete-experiment-tag', 'edit'],
  ['*', 'mlflow/runs/delete-tag', 'edit'],
  ['*', 'mlflow/registered-models/delete-tag', 'edit'],
  ['DELETE', 'mlflow/traces/*/tags', 'edit'],
  ['DELETE', 'mlflow/datasets/*/records', 'edit'],
  ['DELETE', 'mlflow/datasets/*/tags/*', 'edit'],
  // Deleting, restoring: manage.
  ['*', `mlflow/${FAMILIES}/**/delete|delete-*|restore`, 'manage'],
  ['DELETE', `mlflow/${FAMILIES}/**`, 'manage'],
  ['DELETE', 'mlflow-artifacts/**', 'manage'],
  // Artifact proxy: downloads read, uploads (single and multipart) edit.
  ['GET', 'mlflow-artifacts/presigned/**', 'edit'],
  ['GET', 'mlflow-artifacts/artifacts/**', 'read'],
  ['PUT', 'mlflow-artifacts/artifacts/**', 'edit'],
  ['POST', 'mlflow-artifacts/mpu/create|complete|abort/**', 'edit'],
  ['*', 'mlflow/artifacts/presigned-upload-url', 'edit'],
  ['POST', 'mlflow/artifacts/presigned-download-url', 'read'],
  ['POST', 'mlflow/upload-artifact', 'edit'],
  // POST calls that only read.
  ['POST', `mlflow/${FAMILIES}/**/search|search-*|get-*|batchGet*|metrics`, 'read'],
  ['POST', 'mlflow/traces/calculate-filter-correlation', 'read'],
  ['POST', 'mlflow/review-queues/get-or-create-user', 'read'],
  ['GET|POST', 'mlflow/ui-telemetry', 'read'],
  // Using the gateway proxy is "use" in MLflow: at least edit.
  ['GET|POST', 'mlflow/gateway-proxy', 'edit'],
  ['GET', 'mlflow/server-info|unified-traces|get-online-trace-details|get-trace-artifact', 'read'],
  ['GET', `mlflow/${FAMILIES}/**`, 'read'],
  ['POST|PUT|PATCH', `mlflow/${FAMILIES}/**`, 'edit'],
];

interface CompiledRule {
  methods: ReadonlySet<string> | undefined;
  before: Array<(segment: string) => boolean>;
  /** undefined: no `**`; else the segment matchers after it. */
  after: Array<(segment: string) => boolean> | undefined;
  permission: MlflowPermission;
  adminOnly: boolean;
}

function segmentMatcher(pattern: string): (segment: string) => boolean {
  const options = pattern.split('|').map((alt) => {
    if (alt === '*') return () => true;
    const star = alt.indexOf('*');
    if (star === -1) return (s: string) => s === alt;
    const head = alt.slice(0, star);
    return (s: string) => s.startsWith(head);
  });
  return (segment) => options.some((o) => o(segment));
}

function compile(rule: Rule): CompiledRule {
  const [methods, pattern, permission] = rule;
  const adminOnly = rule[3] === 'admin';
  const segments = pattern === '' ? [] : pattern.split('/');
  const globstar = segments.indexOf('**');
  return {
    methods: methods === '*' ? undefined : new Set(methods.split('|')),
    before: (globstar === -1 ? segments : segments.slice(0, globstar)).map(segmentMatcher),
    after: globstar === -1 ? undefined : segments.slice(globstar + 1).map(segmentMatcher),
    permission,
    adminOnly,
  };
}

/** Linear: one `**` per rule at most, so a path is matched head and tail once each. */
function matches(rule: CompiledRule, segments: readonly string[]): boolean {
  const { before, after } = rule;
  if (after === undefined) {
    return segments.length === before.length && before.every((m, i) => m(segments[i]!));
  }
  if (segments.length < before.length + after.length) return false;
  if (!before.every((m, i) => m(segments[i]!))) return false;
  const offset = segments.length - after.length;
  return after.every((m, i) => m(segments[offset + i]!));
}

const TOP_LEVEL_RULES = TOP_LEVEL.map(compile);
const API_RULES = API.map(compile);
const API_PREFIX = /^\/(?:ajax-)?api\/[23]\.0\/?/;

/**
 * The permission an MLflow request needs. `path` is the path MLflow sees (no query).
 * @example classifyMlflowRequest('POST', '/api/2.0/mlflow/runs/search') // {permission: 'read', known: true}
 */
export function classifyMlflowRequest(method: string, path: string): MlflowClassification {
  const m = method === 'HEAD' || method === 'OPTIONS' ? 'GET' : method;
  const prefix = API_PREFIX.exec(path);
  const rest = prefix ? path.slice(prefix[0].length) : path.slice(1);
  const segments = rest === '' ? [] : rest.replace(/\/$/, '').split('/');
  for (const rule of prefix ? API_RULES : TOP_LEVEL_RULES) {
    if (rule.methods && !rule.methods.has(m)) continue;
    if (matches(rule, segments))
      return { permission: rule.permission, known: true, adminOnly: rule.adminOnly };
  }
  return { permission: 'manage', known: false, adminOnly: false };
}

/**
 * With `mlflowPermissions: true` MLflow's permission app decides per resource, so authgate's
 * gate is coarse: reads need read, every write (deletes and grants included) edit, and what
 * MLflow allows only to its admins — or what no rule knows — admin.
 * @example mlflowAppPermission({permission: 'manage', known: true, adminOnly: false}) // 'edit'
 */
export function mlflowAppPermission(c: MlflowClassification): MlflowAppPermission {
  if (c.adminOnly || !c.known) return 'admin';
  return c.permission === 'read' ? 'read' : 'edit';
}

export interface MlflowScopeNames {
  read: string;
  edit: string;
  manage: string;
}

export const DEFAULT_MLFLOW_SCOPES: MlflowScopeNames = {
  read: 'mlflow:read',
  edit: 'mlflow:edit',
  manage: 'mlflow:manage',
};

/** The preset's rule table as rows, for docs/mlflow.md (generated, so it cannot drift). */
export function mlflowPresetRows(): Array<{
  prefixed: boolean;
  methods: string;
  pattern: string;
  permission: MlflowPermission;
  withPermissionsApp: MlflowAppPermission;
}> {
  const row = (prefixed: boolean) => (rule: Rule) => ({
    prefixed,
    methods: rule[0],
    pattern: rule[1],
    permission: rule[2],
    withPermissionsApp: mlflowAppPermission({
      permission: rule[2],
      known: true,
      adminOnly: rule[3] === 'admin',
    }),
  });
  return [...TOP_LEVEL.map(row(false)), ...API.map(row(true))];
}

/** The preset's rule table as Markdown (docs/mlflow.md embeds it; a test keeps them equal). */
export function mlflowScopeTable(): string {
  const lines = [
    '| # | methods | path (after the API prefix, or from `/`) | needs | with `mlflowPermissions` |',
    '| -: | ------- | ---------------------------------------- | ----- | ------------------------ |',
  ];
  mlflowPresetRows().forEach((row, i) => {
    const pattern = row.pattern.split(FAMILIES).join('<family>');
    const path = row.prefixed ? `{api,ajax-api}/{2.0,3.0}/${pattern}` : `/${pattern}`;
    const methods = row.methods === '*' ? 'any' : row.methods.replace(/\|/g, ', ');
    lines.push(
      `| ${i + 1} | ${methods} | \`${path.replace(/\|/g, '\\|')}\` | ${row.permission} | ${row.withPermissionsApp} |`,
    );
  });
  lines.push('| — | any | anything else | manage | admin |');
  lines.push(
    '',
    `\`<family>\` is one of ${FAMILIES.split('|')
      .map((f) => `\`${f}\``)
      .join(', ')}.`,
  );
  return lines.join('\n') + '\n';
}
