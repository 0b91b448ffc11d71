import fc from 'fast-check';
import { classifyMlflowRequest } from '../../../src/presets/mlflow';

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
    expect(classifyMlflowRequest(method, path)).toEqual({ permission, known: true });
  });

  it.each([
    ['POST', '/api/2.0/mlflow/brand-new-family/create'],
    ['GET', '/api/2.0/mlflow/brand-new-family/get'],
    ['GET', '/admin'],
    ['POST', '/static-files/x'],
  ])('%s %s is unknown and needs manage', (method, path) => {
    expect(classifyMlflowRequest(method, path)).toEqual({ permission: 'manage', known: false });
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
