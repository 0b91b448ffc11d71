/**
 * authgate as an OpenID Connect relying party, through openid-client (the reference RP library;
 * no hand-written OAuth): discovery from the issuer, the authorization code flow with PKCE S256,
 * `state` and `nonce`, ID-token verification with the discovered JWKS (`iss`, `aud`, `nonce`,
 * `exp`), userinfo, refresh-token grants and RP-initiated logout.
 *
 * Discovery happens on first use and is retried after a failure (a provider down at startup
 * does not keep authgate from starting); nothing here logs a code or a token.
 */
import * as oidc from 'openid-client';
import type { OidcConfig } from '../../config/auth-schema';

export interface LoginStart {
  url: string;
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface GrantResult {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  /** epoch ms */
  accessExpiresAt?: number;
  /** ID-token claims merged with userinfo's (the ID token wins on `sub`). */
  claims?: Record<string, unknown>;
}

/** The provider refused (invalid_grant, a bad state, a wrong nonce ...): a sign-in failure. */
export class ProviderRefused extends Error {
  constructor(
    readonly reason: string,
    cause?: unknown,
  ) {
    super(reason, { cause });
  }
}

/** The provider could not be reached or answered nonsense. */
export class ProviderUnavailable extends Error {}

function isLoopback(url: URL): boolean {
  return url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]';
}

/** Which refusal it was, as a bounded reason word (never the provider's description). */
function refusalReason(err: unknown): string | undefined {
  if (err instanceof oidc.ResponseBodyError) return `provider_${err.error}`.slice(0, 64);
  if (err instanceof oidc.AuthorizationResponseError) return `provider_${err.error}`.slice(0, 64);
  if (err instanceof Error && 'code' in err) {
    const code = String((err as { code: unknown }).code);
    if (code === 'OAUTH_JWT_CLAIM_COMPARISON_FAILED') return 'id_token_claim_mismatch';
    if (code === 'OAUTH_JWT_TIMESTAMP_CHECK_FAILED') return 'id_token_expired';
    if (code === 'OAUTH_JWS_SIGNATURE_VERIFICATION_FAILED') return 'id_token_bad_signature';
    if (code === 'OAUTH_INVALID_RESPONSE' || code === 'OAUTH_RESPONSE_IS_NOT_CONFORM')
      return 'provider_invalid_response';
    if (code === 'OAUTH_INVALID_REQUEST') return 'invalid_callback';
  }
  return undefined;
}

export class RelyingParty {
  private configuration?: Promise<oidc.Configuration>;
  private readonly issuer: URL;
  readonly redirectUri: string;
  readonly postLogoutUri: string;

  constructor(
    private readonly config: OidcConfig,
    private readonly now: () => number,
  ) {
    this.issuer = new URL(config.issuer);
    this.redirectUri = new URL(config.callbackPath, config.publicUrl).href;
    this.postLogoutUri = new URL('/', config.publicUrl).href;
  }

  /** The discovered configuration; a failed discovery is retried by the next call. */
  discovered(): Promise<oidc.Configuration> {
    if (!this.configuration) {
      const execute = isLoopback(this.issuer) ? [oidc.allowInsecureRequests] : [];
      this.configuration = oidc
        .discovery(
          this.issuer,
          this.config.clientId,
          undefined,
          oidc.ClientSecretBasic(this.config.clientSecret),
          { execute, timeout: Math.ceil(this.config.timeoutMs / 1000) },
        )
        .catch((err: unknown) => {
          this.configuration = undefined;
          throw new ProviderUnavailable('discovery failed', { cause: err });
        });
    }
    return this.configuration;
  }

  async start(): Promise<LoginStart> {
    const config = await this.discovered();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const state = oidc.randomState();
    const nonce = oidc.randomNonce();
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      scope: this.config.scopes.join(' '),
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      state,
      nonce,
    });
    return { url: url.href, state, nonce, codeVerifier };
  }

  /**
   * Redeems the code of a callback (`search` is its query string) after openid-client checks
   * `state` — before anything is sent — and then the ID token.
   */
  async redeem(
    search: string,
    checks: { state: string; nonce: string; codeVerifier: string },
  ): Promise<GrantResult> {
    const config = await this.discovered();
    const currentUrl = new URL(this.redirectUri);
    currentUrl.search = search;
    try {
      const tokens = await oidc.authorizationCodeGrant(config, currentUrl, {
        pkceCodeVerifier: checks.codeVerifier,
        expectedState: checks.state,
        expectedNonce: checks.nonce,
        idTokenExpected: true,
      });
      return await this.withUserinfo(config, tokens);
    } catch (err) {
      throw this.classify(err);
    }
  }

  async refresh(refreshToken: string): Promise<GrantResult> {
    const config = await this.discovered();
    try {
      const tokens = await oidc.refreshTokenGrant(config, refreshToken);
      return await this.withUserinfo(config, tokens, refreshToken);
    } catch (err) {
      throw this.classify(err);
    }
  }

  /** Where the browser goes to sign out at the provider, when it offers RP-initiated logout. */
  async endSessionUrl(idToken: string | undefined): Promise<string | undefined> {
    const config = await this.discovered().catch(() => undefined);
    if (!config?.serverMetadata().end_session_endpoint) return undefined;
    const params: Record<string, string> = {
      post_logout_redirect_uri: this.postLogoutUri,
      client_id: this.config.clientId,
    };
    if (idToken) params.id_token_hint = idToken;
    return oidc.buildEndSessionUrl(config, params).href;
  }

  private classify(err: unknown): Error {
    if (err instanceof ProviderUnavailable || err instanceof ProviderRefused) return err;
    const reason = refusalReason(err);
    if (reason !== undefined) return new ProviderRefused(reason, err);
    return new ProviderUnavailable('provider call failed', { cause: err });
  }

  private async withUserinfo(
    config: oidc.Configuration,
    tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers,
    previousRefresh?: string,
  ): Promise<GrantResult> {
    const idClaims = tokens.claims() as Record<string, unknown> | undefined;
    let claims: Record<string, unknown> | undefined = idClaims && { ...idClaims };
    if (config.serverMetadata().userinfo_endpoint) {
      const subject = typeof idClaims?.sub === 'string' ? idClaims.sub : oidc.skipSubjectCheck;
      const info = (await oidc.fetchUserInfo(config, tokens.access_token, subject)) as Record<
        string,
        unknown
      >;
      // What the ID token says stays; userinfo adds what it leaves out (groups, tenants ...).
      claims = { ...info, ...(claims ?? {}) };
    }
    const expiresIn = tokens.expiresIn();
    return {
      accessToken: tokens.access_token,
      // Without rotation the provider sends none back: the old one stays valid.
      refreshToken: tokens.refresh_token ?? previousRefresh,
      idToken: tokens.id_token,
      accessExpiresAt: expiresIn === undefined ? undefined : this.now() + expiresIn * 1000,
      claims,
    };
  }
}
