import {
  credentialFromEntry,
  lookupDockerConfig,
  registryKey,
} from '../../../src/upstream-credentials/docker-config-provider';
import {
  SingleFlight,
  authorizationValue,
  parseExpiry,
  parseTokenAnswer,
  refreshTime,
} from '../../../src/upstream-credentials/credential';
import { credentialFromFile } from '../../../src/upstream-credentials/file-provider';
import { credentialFromOutput } from '../../../src/upstream-credentials/command-provider';

const b64 = (s: string): string => Buffer.from(s).toString('base64');
const NOW = Date.parse('2026-12-03T10:00:00Z');

describe('registryKey: the spellings of one registry', () => {
  it.each([
    ['myreg.azurecr.io', 'myreg.azurecr.io'],
    ['https://myreg.azurecr.io', 'myreg.azurecr.io'],
    ['http://MyReg.AzureCR.io/', 'myreg.azurecr.io'],
    ['https://myreg.azurecr.io/v2/', 'myreg.azurecr.io'],
    ['myreg.azurecr.io:443', 'myreg.azurecr.io'],
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['https://index.docker.io/v1/', 'docker.io'],
    ['docker.io', 'docker.io'],
    ['registry-1.docker.io', 'docker.io'],
    ['registry.hub.docker.com', 'docker.io'],
    ['ghcr.io', 'ghcr.io'],
  ])('%s → %s', (spelling, key) => {
    expect(registryKey(spelling)).toBe(key);
  });
});

describe('credentialFromEntry: one auths entry', () => {
  it.each([
    [{ auth: b64('u:p:with:colons') }, { username: 'u', secret: 'p:with:colons', scheme: 'basic' }],
    [
      { username: 'u', password: 'p' },
      { username: 'u', secret: 'p', scheme: 'basic' },
    ],
    [{ registrytoken: 'rt' }, { secret: 'rt', scheme: 'bearer' }],
    [
      { auth: b64('00000000-0000-0000-0000-000000000000:'), identitytoken: 'refresh' },
      { username: '00000000-0000-0000-0000-000000000000', secret: 'refresh', scheme: 'basic' },
    ],
    [
      { identitytoken: 'refresh' },
      { username: '00000000-0000-0000-0000-000000000000', secret: 'refresh', scheme: 'basic' },
    ],
    [{ auth: b64('no-colon') }, 'its "auth" is not base64 of user:password'],
    [{}, 'the entry has no auth, username/password, identitytoken or registrytoken'],
    [
      { username: 'u', password: '' },
      'the entry has no auth, username/password, identitytoken or registrytoken',
    ],
  ])('%j', (entry, expected) => {
    expect(credentialFromEntry(entry)).toEqual(expected);
  });
});

describe('lookupDockerConfig', () => {
  const config = {
    auths: {
      'https://index.docker.io/v1/': { auth: b64('hub:hubpass') },
      'myreg.azurecr.io': { auth: b64('acr:acrpass') },
      'https://ghcr.io': { username: 'octo', password: 'ghp' },
    },
    credHelpers: { 'gcr.io': 'gcloud' },
  };
  it.each([
    ['docker.io', { username: 'hub', secret: 'hubpass', scheme: 'basic' }],
    ['registry-1.docker.io', { username: 'hub', secret: 'hubpass', scheme: 'basic' }],
    ['https://myreg.azurecr.io/', { username: 'acr', secret: 'acrpass', scheme: 'basic' }],
    ['ghcr.io', { username: 'octo', secret: 'ghp', scheme: 'basic' }],
    [
      'gcr.io',
      'no auths entry for gcr.io; credential helpers (credHelpers, credsStore) are not supported: use the command provider',
    ],
    ['quay.io', 'no auths entry for quay.io'],
  ])('%s', (registry, expected) => {
    expect(lookupDockerConfig(config, registry)).toEqual(expected);
  });

  it('a credsStore without an auths entry says helpers are not supported', () => {
    expect(lookupDockerConfig({ credsStore: 'desktop' }, 'x.io')).toContain('not supported');
    expect(lookupDockerConfig([], 'x.io')).toBe('the file is not a JSON object');
  });
});

describe('parseTokenAnswer and parseExpiry', () => {
  it.each([
    [{ accessToken: 'a', loginServer: 'r.azurecr.io' }, { secret: 'a' }],
    [
      { access_token: 'a', expires_in: 60 },
      { secret: 'a', expiresAt: NOW + 60_000 },
    ],
    [
      { token: 't', expires_at: 1_800_000_000 },
      { secret: 't', expiresAt: 1_800_000_000_000 },
    ],
    [
      { password: 'p', username: 'u', expiresOn: '2026-12-03T11:00:00Z' },
      { secret: 'p', username: 'u', expiresAt: NOW + 3_600_000 },
    ],
    [{ secret: 's', expires_in: 'nonsense' }, { secret: 's' }],
    [
      { token: '' },
      'the answer has none of accessToken, access_token, token, password, secret, refreshToken, refresh_token',
    ],
    [['a'], 'the answer is not a JSON object'],
    [null, 'the answer is not a JSON object'],
  ])('%j', (value, expected) => {
    expect(parseTokenAnswer(value, NOW)).toEqual(expected);
  });

  it.each([
    [1_800_000_000, 1_800_000_000_000],
    [1_800_000_000_000, 1_800_000_000_000],
    ['1800000000', 1_800_000_000_000],
    ['2026-12-03T10:00:00Z', NOW],
    ['not a date', undefined],
    [-5, undefined],
    [undefined, undefined],
  ])('parseExpiry(%j)', (value, expected) => {
    expect(parseExpiry(value)).toBe(expected);
  });
});

describe('refreshTime', () => {
  it.each([
    [undefined, 60_000, Number.POSITIVE_INFINITY],
    [NOW + 600_000, 60_000, NOW + 540_000],
    // Shorter than twice the margin: renewed at half its lifetime.
    [NOW + 60_000, 60_000, NOW + 30_000],
    [NOW - 1, 60_000, NOW - 1],
  ])('expires %s, margin %s', (expiresAt, margin, expected) => {
    expect(refreshTime(expiresAt, NOW, margin)).toBe(expected);
  });
});

describe('file and command answers', () => {
  it.each([
    ['  s3cret\n', {}, { secret: 's3cret', scheme: 'bearer' }],
    ['s3cret', { username: 'u' }, { username: 'u', secret: 's3cret', scheme: 'basic' }],
    [
      's3cret',
      { username: 'u', scheme: 'bearer' as const },
      { username: 'u', secret: 's3cret', scheme: 'bearer' },
    ],
    ['{"username":"u","password":"p"}', {}, { username: 'u', secret: 'p', scheme: 'basic' }],
    [
      '{"token":"t","expires_in":10}',
      {},
      { secret: 't', scheme: 'bearer', expiresAt: NOW + 10_000 },
    ],
    ['{"token":', {}, 'the file starts with "{" but is not valid JSON'],
    ['\n', {}, 'the file is empty'],
  ])('file %j %j', (text, config, expected) => {
    expect(credentialFromFile(text, config, NOW)).toEqual(expected);
  });

  const command = { output: 'json' as const, cacheSec: 300 };
  it.each([
    [
      '{"accessToken":"acr-refresh","loginServer":"r.azurecr.io"}',
      { ...command, username: '00000000-0000-0000-0000-000000000000' },
      {
        username: '00000000-0000-0000-0000-000000000000',
        secret: 'acr-refresh',
        scheme: 'basic',
        expiresAt: NOW + 300_000,
      },
    ],
    [
      '{"access_token":"t","expires_in":60}',
      command,
      { secret: 't', scheme: 'bearer', expiresAt: NOW + 60_000 },
    ],
    [
      'plain-token\n',
      { ...command, output: 'text' as const },
      { secret: 'plain-token', scheme: 'bearer', expiresAt: NOW + 300_000 },
    ],
    ['plain-token', command, 'printed no JSON (set output: text for a plain token)'],
    ['', command, 'printed nothing'],
  ])('command %j', (stdout, config, expected) => {
    expect(credentialFromOutput(stdout, config, NOW)).toEqual(expected);
  });
});

describe('authorizationValue', () => {
  it.each([
    [{ secret: 't', scheme: 'bearer' as const }, 'Bearer t'],
    [{ username: 'u', secret: 'p', scheme: 'basic' as const }, `Basic ${b64('u:p')}`],
    [{ secret: 'p', scheme: 'basic' as const }, `Basic ${b64(':p')}`],
  ])('%j', (credential, value) => {
    expect(authorizationValue(credential)).toBe(value);
  });
});

describe('SingleFlight', () => {
  it('runs one load for concurrent callers, and a new one after it settled', async () => {
    const flight = new SingleFlight<number>();
    let runs = 0;
    const load = async (): Promise<number> => {
      runs++;
      await new Promise((r) => setImmediate(r));
      return runs;
    };
    expect(await Promise.all([flight.run(load), flight.run(load), flight.run(load)])).toEqual([
      1, 1, 1,
    ]);
    expect(await flight.run(load)).toBe(2);
  });
});
