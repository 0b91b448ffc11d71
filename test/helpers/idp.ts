/**
 * The real OpenID Provider of the sign-in tests (`oidc-provider`, test/idp/oidc-provider.mjs, in
 * its own process) and a cookie-keeping HTTP browser that signs in through its login form.
 * Chromium drives the same provider in the e2e tier.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { rawRequest, type RawResponse } from './servers';

export const IDP_CLIENT = {
  clientId: 'authgate',
  clientSecret: 'authgate-test-client-secret-0123456789abcdef',
};

export interface IdpEvents {
  refresh: number;
  refresh_error: number;
  code: number;
  code_error: number;
  revoked: number;
  userinfo: number;
}

export interface Idp {
  issuer: string;
  events(): Promise<IdpEvents>;
  /** Ends every grant of an account at the provider (an administrator's revocation). */
  revoke(account: string): Promise<void>;
  stop(): Promise<void>;
}

export interface IdpOptions {
  /** authgate origins the client may return to (redirect and post-logout URIs). */
  publicUrls: string[];
  accounts?: Record<string, Record<string, unknown>>;
  /** Seconds. */
  accessTokenTtl?: number;
  callbackPath?: string;
}

export async function startIdp(options: IdpOptions): Promise<Idp> {
  const callback = options.callbackPath ?? '/oauth2/callback';
  const config = {
    accounts: options.accounts ?? {},
    accessTokenTtl: options.accessTokenTtl,
    clients: [
      {
        client_id: IDP_CLIENT.clientId,
        client_secret: IDP_CLIENT.clientSecret,
        redirect_uris: options.publicUrls.map((u) => `${u}${callback}`),
        post_logout_redirect_uris: options.publicUrls.map((u) => `${u}/`),
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
  };
  const child: ChildProcess = spawn(
    process.execPath,
    [join(__dirname, '..', 'idp', 'oidc-provider.mjs')],
    {
      env: { PATH: process.env.PATH, IDP_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  // The provider's own start-up warnings (development keys and adapter) are expected here.
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (!line.startsWith('oidc-provider WARNING')) process.stderr.write(`${line}\n`);
  });
  const first = await new Promise<string>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`oidc-provider exited with ${code}`)));
  });
  const { issuer } = JSON.parse(first) as { issuer: string };
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    issuer,
    async events() {
      const res = await fetch(`${issuer}/__test/events`);
      return (await res.json()) as IdpEvents;
    },
    async revoke(account) {
      await (await fetch(`${issuer}/__test/revoke?account=${encodeURIComponent(account)}`)).text();
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

interface Cookie {
  name: string;
  value: string;
  path: string;
}

function locationOf(res: RawResponse): string | undefined {
  const value = res.headers.location;
  return typeof value === 'string' ? value : undefined;
}

/**
 * A browser without a screen: keeps cookies the way a browser does on one host (by name and
 * path; ports share cookies), sends navigation headers, follows nothing by itself.
 */
export class HttpBrowser {
  cookies: Cookie[] = [];

  cookieHeader(path: string): string | undefined {
    const sent = this.cookies
      .filter(
        (c) =>
          path === c.path ||
          path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`) ||
          c.path === '/',
      )
      .map((c) => `${c.name}=${c.value}`);
    return sent.length === 0 ? undefined : sent.join('; ');
  }

  cookie(name: string): string | undefined {
    return this.cookies.find((c) => c.name === name)?.value;
  }

  private remember(res: RawResponse): void {
    const set = res.headers['set-cookie'] ?? [];
    for (const line of Array.isArray(set) ? set : [set]) {
      const [pair, ...attrs] = line.split(';').map((p) => p.trim());
      const eq = (pair as string).indexOf('=');
      const name = (pair as string).slice(0, eq);
      const value = (pair as string).slice(eq + 1);
      const path = attrs.find((a) => /^path=/i.test(a))?.slice(5) ?? '/';
      const maxAge = attrs.find((a) => /^max-age=/i.test(a));
      const expired = maxAge !== undefined && Number(maxAge.slice(8)) <= 0;
      const expires = attrs.find((a) => /^expires=/i.test(a));
      const past = expires !== undefined && Date.parse(expires.slice(8)) < Date.now();
      this.cookies = this.cookies.filter((c) => !(c.name === name && c.path === path));
      if (!expired && !past) this.cookies.push({ name, value, path });
    }
  }

  /** One request as a browser makes it (a navigation unless headers say otherwise). */
  async request(
    url: string,
    options: { method?: string; headers?: Record<string, string>; body?: string } = {},
  ): Promise<RawResponse> {
    const u = new URL(url);
    const headers: Record<string, string> = {
      Host: u.host,
      Accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8',
      'Sec-Fetch-Mode': 'navigate',
      ...options.headers,
    };
    if (options.body !== undefined)
      headers['Content-Length'] = String(Buffer.byteLength(options.body));
    const cookie = this.cookieHeader(u.pathname);
    if (cookie !== undefined) headers.Cookie = cookie;
    const res = await rawRequest(u.origin, {
      method: options.method ?? 'GET',
      path: u.pathname + u.search,
      headers: Object.entries(headers).flat(),
      body: options.body,
    });
    this.remember(res);
    return res;
  }

  /**
   * Signs in at the provider from its authorization URL: follows the provider's redirects,
   * fills the login form with `user`, and stops at the first redirect leaving the provider
   * (authgate's callback URL, not yet requested).
   */
  async atProvider(authorizeUrl: string, user: string): Promise<string> {
    let url = authorizeUrl;
    const providerOrigin = new URL(authorizeUrl).origin;
    for (let hop = 0; hop < 12; hop++) {
      if (new URL(url).origin !== providerOrigin) return url;
      const res = await this.request(url);
      const next = locationOf(res);
      if (next !== undefined) {
        url = new URL(next, url).href;
        continue;
      }
      const html = res.body.toString();
      const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
      const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1];
      if (action === undefined || prompt === undefined)
        throw new Error(`no form at the provider (${res.status})`);
      const form = new URLSearchParams({ prompt, login: user, password: 'any' }).toString();
      const posted = await this.request(new URL(action, url).href, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: form,
      });
      const after = locationOf(posted);
      if (after === undefined) throw new Error(`the provider did not redirect (${posted.status})`);
      url = new URL(after, url).href;
    }
    throw new Error('too many redirects at the provider');
  }

  /**
   * A whole sign-in: navigate to `pageUrl`, get sent to the provider, sign in as `user`, and
   * return through authgate's callback. Resolves with the callback's answer.
   */
  async signIn(pageUrl: string, user: string): Promise<RawResponse> {
    const first = await this.request(pageUrl);
    const toProvider = locationOf(first);
    if (first.status !== 302 || toProvider === undefined)
      throw new Error(`expected a redirect to sign in, got ${first.status}`);
    const callback = await this.atProvider(toProvider, user);
    return this.request(callback);
  }
}
