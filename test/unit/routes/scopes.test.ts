import { parseConfig } from '../../../src/config/load';
import { METHOD_NOT_GRANTED, RouteTable } from '../../../src/routes/route-table';

const scopesOf = (route: Record<string, unknown>) => {
  const config = parseConfig({
    auth: { jwt: { issuers: [{ issuer: 'i', algorithms: ['HS256'], secret: 'x'.repeat(32) }] } },
    routes: [{ name: 'r', prefix: '/', upstream: 'http://127.0.0.1:1', ...route }],
  });
  return new RouteTable(config.routes).routes[0]!;
};

describe('scopesFor', () => {
  it.each<
    [string, Record<string, unknown>, string, string, readonly string[] | typeof METHOD_NOT_GRANTED]
  >([
    ['a list applies to every method', { scopes: ['a'] }, 'DELETE', '/x', ['a']],
    [
      'a map without "*" fails closed',
      { scopes: { GET: ['r'] } },
      'POST',
      '/x',
      METHOD_NOT_GRANTED,
    ],
    [
      'a map with "*" falls back to it',
      { scopes: { GET: ['r'], '*': ['w'] } },
      'POST',
      '/x',
      ['w'],
    ],
    [
      'the preset decides',
      { preset: 'mlflow' },
      'POST',
      '/api/2.0/mlflow/runs/delete',
      ['mlflow:manage'],
    ],
    [
      'renamed preset scopes',
      { preset: 'mlflow', presetScopes: { read: 'ml.r' } },
      'GET',
      '/',
      ['ml.r'],
    ],
    [
      'a list overrides the preset',
      { preset: 'mlflow', scopes: ['all'] },
      'POST',
      '/api/2.0/mlflow/runs/delete',
      ['all'],
    ],
    [
      'a map overrides the preset for its methods',
      { preset: 'mlflow', scopes: { POST: ['p'] } },
      'POST',
      '/api/2.0/mlflow/runs/delete',
      ['p'],
    ],
    [
      '... and the preset decides the others',
      { preset: 'mlflow', scopes: { POST: ['p'] } },
      'GET',
      '/api/2.0/mlflow/runs/get',
      ['mlflow:read'],
    ],
  ])('%s', (_n, route, method, path, expected) => {
    expect(scopesOf(route).scopesFor(method, path)).toEqual(expected);
  });
});
