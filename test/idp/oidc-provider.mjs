/**
 * A real, certified OpenID Provider (the npm package `oidc-provider`) for the browser sign-in
 * tests, in its own process: PKCE required, refresh tokens rotated (a rotated token used twice
 * revokes the grant), short token lifetimes, users with groups and tenants, RP-initiated logout.
 * Configured by IDP_CONFIG (JSON); prints {"port": N} on its first stdout line.
 *
 * Test-only endpoints under /__test: `events` (counts of what the provider did) and
 * `revoke?account=ID` (ends every grant of an account, as an administrator would).
 */
import { createServer } from 'node:http';
import process from 'node:process';
import Provider from 'oidc-provider';

const config = JSON.parse(process.env.IDP_CONFIG ?? '{}');
const accounts = config.accounts ?? {};
const events = { refresh: 0, refresh_error: 0, code: 0, code_error: 0, revoked: 0, userinfo: 0 };
const grantsOf = new Map(); // accountId -> Set(grantId)

const server = createServer();
await new Promise((resolve) => server.listen(config.port ?? 0, '127.0.0.1', resolve));
const { port } = server.address();
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: config.clients,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    revocation: { enabled: true },
  },
  claims: {
    openid: ['sub'],
    profile: ['name', 'groups', 'tenant_ids', 'realm_access'],
    email: ['email'],
  },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, name: id, ...(accounts[id] ?? {}) };
      },
    };
  },
  // Every sign-in of a client allowed refresh tokens gets one (as Keycloak and Entra do),
  // without forcing the consent prompt offline_access needs by default.
  async issueRefreshToken(_ctx, client) {
    return client.grantTypeAllowed('refresh_token');
  },
  rotateRefreshToken: true,
  ttl: {
    AccessToken: config.accessTokenTtl ?? 600,
    IdToken: config.idTokenTtl ?? 600,
    RefreshToken: 86400,
    Grant: 86400,
    Session: 86400,
    Interaction: 600,
  },
  cookies: { keys: ['authgate-test-idp-cookie-key'] },
  // No consent screen: a grant with what the client asked for.
  async loadExistingGrant(ctx) {
    const id =
      ctx.oidc.result?.consent?.grantId || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (id) {
      const found = await ctx.oidc.provider.Grant.find(id);
      if (found) return found;
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(ctx.oidc.params.scope ?? 'openid');
    await grant.save();
    return grant;
  },
});
provider.on('grant.success', (ctx) => {
  const type = ctx.oidc.params?.grant_type;
  if (type === 'refresh_token') events.refresh++;
  else if (type === 'authorization_code') events.code++;
  const grantId = ctx.oidc.entities?.Grant?.jti;
  const accountId = ctx.oidc.entities?.Account?.accountId;
  if (grantId && accountId) {
    if (!grantsOf.has(accountId)) grantsOf.set(accountId, new Set());
    grantsOf.get(accountId).add(grantId);
  }
});
provider.on('grant.error', (ctx) => {
  if (ctx.oidc.params?.grant_type === 'refresh_token') events.refresh_error++;
  else events.code_error++;
});
provider.on('grant.revoked', () => events.revoked++);
provider.on('userinfo.error', () => {});
provider.use(async (ctx, next) => {
  if (ctx.path === '/me') events.userinfo++;
  if (ctx.path === '/__test/events') {
    ctx.body = events;
    return;
  }
  if (ctx.path === '/__test/revoke') {
    const account = ctx.query.account;
    for (const grantId of grantsOf.get(account) ?? []) {
      await Promise.all([
        provider.AccessToken.revokeByGrantId(grantId),
        provider.RefreshToken.revokeByGrantId(grantId),
        provider.Grant.adapter.destroy(grantId),
      ]);
    }
    grantsOf.delete(account);
    ctx.body = { revoked: account };
    return;
  }
  await next();
});
provider.on('server_error', (_ctx, err) => process.stderr.write(`idp server_error ${err.stack}\n`));
server.on('request', provider.callback());
process.stdout.write(JSON.stringify({ port, issuer }) + '\n');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
