/**
 * A runtime a reload retired reports through a switch: until it is retired every report reaches
 * the metrics; after, none does (its Redis connection closing is not "Redis down").
 */
import type { AuthObserver } from '../../../src/auth/observer';
import { muted } from '../../../src/runtime';

type Call = [keyof AuthObserver, unknown[]];

function recorder(calls: Call[]): AuthObserver {
  const rec =
    (name: keyof AuthObserver) =>
    (...args: unknown[]): void => {
      calls.push([name, args]);
    };
  return {
    jwksRefresh: rec('jwksRefresh'),
    jwksUp: rec('jwksUp'),
    tokenValidation: rec('tokenValidation'),
    apiKeyCache: rec('apiKeyCache'),
    authServiceRequest: rec('authServiceRequest'),
    authServiceUp: rec('authServiceUp'),
    redisUp: rec('redisUp'),
    login: rec('login'),
    sessionRefresh: rec('sessionRefresh'),
    sessionsActive: rec('sessionsActive'),
  };
}

const source = (): Promise<number> => Promise.resolve(3);
const REPORTS: Array<[string, (o: AuthObserver) => void, Call]> = [
  ['jwksRefresh', (o) => o.jwksRefresh('idp', 'success'), ['jwksRefresh', ['idp', 'success']]],
  ['jwksUp', (o) => o.jwksUp('idp', false), ['jwksUp', ['idp', false]]],
  ['tokenValidation', (o) => o.tokenValidation('jwt', 0.002), ['tokenValidation', ['jwt', 0.002]]],
  ['apiKeyCache', (o) => o.apiKeyCache('redis', 'miss'), ['apiKeyCache', ['redis', 'miss']]],
  [
    'authServiceRequest',
    (o) => o.authServiceRequest('timeout'),
    ['authServiceRequest', ['timeout']],
  ],
  ['authServiceUp', (o) => o.authServiceUp(true), ['authServiceUp', [true]]],
  ['redisUp', (o) => o.redisUp(false), ['redisUp', [false]]],
  ['login', (o) => o.login('failed'), ['login', ['failed']]],
  ['sessionRefresh', (o) => o.sessionRefresh('error'), ['sessionRefresh', ['error']]],
  ['sessionsActive', (o) => o.sessionsActive(source), ['sessionsActive', [source]]],
];

describe('the observer of a runtime, muted once retired', () => {
  it.each(REPORTS)('%s reaches the metrics while live, with its arguments', (_, report, call) => {
    const calls: Call[] = [];
    report(muted(recorder(calls), () => true));
    expect(calls).toEqual([call]);
  });

  it.each(REPORTS)('%s is dropped once retired', (_, report) => {
    const calls: Call[] = [];
    let live = true;
    const observer = muted(recorder(calls), () => live);
    live = false;
    report(observer);
    expect(calls).toEqual([]);
  });

  it('covers every report the observer interface has', () => {
    const names = Object.keys(recorder([])).sort();
    expect(REPORTS.map(([name]) => name).sort()).toEqual(names);
    expect(Object.keys(muted(recorder([]), () => true)).sort()).toEqual(names);
  });
});
