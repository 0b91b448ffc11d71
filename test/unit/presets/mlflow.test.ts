import fc from 'fast-check';
import { classifyMlflowRequest, mlflowAppPermission } from '../../../src/presets/mlflow';

describe('classifyMlflowRequest', () => {
  it.each([
    ['GET', '/api/2.0/mlflow/experiments/get', 'read'],
    ['POST', '/api/2.0/mlflow/runs/search', 'read'],
    ['POST', '/ajax-api/2.0/mlflow/registered-models/get-latest-versions', 'read'],
    ['POST', '/api/2.0/mlflow/runs/log-batch', 'edit'],
    ['PUT', '/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.bin', 'edit'],
    ['GET', '/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/model.bin', 'read'],
    ['HEAD', '/api/2.0/mlflow/experiments/get', 'read'],
    ['POST', '/api/2.0/mlflow/runs/delete', 'manage'],
    ['POST', '/api/2.0/mlflow/experiments/restore', 'manage'],
    ['POST', '/api/2.0/mlflow/runs/delete-tag', 'edit'],
    ['DELETE', '/api/2.0/mlflow/registered-models/delete', 'manage'],
    ['GET', '/api/2.0/mlflow/webhooks', 'manage'],
    ['GET', '/', 'read'],
    ['GET', '/static-files/static/js/main.js', 'read'],
    ['POST', '/graphql', 'read'],
    ['GET', '/get-artifact', 'read'],
    ['GET', '/model-versions/get-artifact', 'read'],
  ])('%s %s → %s', (method, path, permission) => {
    expect(classifyMlflowRequest(method, path)).toMatchObject({ permission, known: true });
  });

  it.each([
    ['POST', '/api/2.0/mlflow/brand-new-family/create'],
    ['GET', '/api/2.0/mlflow/brand-new-family/get'],
    ['GET', '/admin'],
    ['POST', '/static-files/x'],
  ])('%s %s is unknown and needs manage', (method, path) => {
    expect(classifyMlflowRequest(method, path)).toEqual({
      permission: 'manage',
      known: false,
      adminOnly: false,
    });
  });

  it('property: any path gets a permission, and unknown ones get manage', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE'),
        fc.array(
          fc.constantFrom('api', '2.0', 'mlflow', 'runs', 'delete', 'search', '**', 'x', ''),
          {
            maxLength: 8,
          },
        ),
        (method, segments) => {
          const c = classifyMlflowRequest(method, '/' + segments.join('/'));
          expect(['read', 'edit', 'manage']).toContain(c.permission);
          if (!c.known) expect(c.permission).toBe('manage');
        },
      ),
    );
  });
});

describe('with mlflowPermissions: read / edit / admin', () => {
  it.each([
    ['GET', '/api/2.0/mlflow/experiments/get', 'read'],
    ['POST', '/api/2.0/mlflow/runs/search', 'read'],
    ['POST', '/api/2.0/mlflow/experiments/create', 'edit'],
    // Deletes and grants: MLflow's app asks MANAGE on that experiment or model.
    ['POST', '/api/2.0/mlflow/experiments/delete', 'edit'],
    ['POST', '/api/2.0/mlflow/experiments/restore', 'edit'],
    ['DELETE', '/api/2.0/mlflow/registered-models/delete', 'edit'],
    ['POST', '/api/3.0/mlflow/users/permissions/grant', 'edit'],
    ['POST', '/ajax-api/3.0/mlflow/users/permissions/revoke', 'edit'],
    ['POST', '/api/2.0/mlflow/experiments/permissions/create', 'edit'],
    ['DELETE', '/api/2.0/mlflow/experiments/permissions/delete', 'edit'],
    // User administration and MLflow's admin-only features.
    ['POST', '/api/2.0/mlflow/users/create', 'admin'],
    ['PATCH', '/api/2.0/mlflow/users/update-admin', 'admin'],
    ['DELETE', '/api/2.0/mlflow/users/delete', 'admin'],
    ['POST', '/api/3.0/mlflow/roles/create', 'admin'],
    ['POST', '/api/2.0/mlflow/webhooks', 'admin'],
    ['POST', '/api/3.0/mlflow/workspaces', 'admin'],
    ['GET', '/api/2.0/mlflow/users/get', 'read'],
    // Unknown: admin (fail closed).
    ['POST', '/api/2.0/mlflow/brand-new-family/create', 'admin'],
  ])('%s %s → %s', (method, path, expected) => {
    expect(mlflowAppPermission(classifyMlflowRequest(method, path))).toBe(expected);
  });

  it('property: never more than manage needed before becomes admin unless MLflow keeps it to admins', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
        fc.array(
          fc.constantFrom('api', '2.0', 'mlflow', 'runs', 'users', 'delete', 'search', 'x'),
          {
            maxLength: 6,
          },
        ),
        (method, segments) => {
          const c = classifyMlflowRequest(method, '/' + segments.join('/'));
          const p = mlflowAppPermission(c);
          if (c.permission === 'read' && c.known && !c.adminOnly) expect(p).toBe('read');
          if (p === 'admin') expect(c.adminOnly || !c.known).toBe(true);
        },
      ),
    );
  });
});
