/**
 * Every error authgate answers itself (docs/design.md#typed-errors). Each code is declared once here with its
 * status and category title; `errorStatus`-style mapping lives nowhere else.
 */

export const ERROR_CATALOG = {
  BAD_REQUEST: { status: 400, message: 'The request is malformed.' },
  TENANT_REQUIRED: {
    status: 400,
    message: 'This route needs the tenant the request acts for (the tenant header).',
  },
  AUTH_REQUIRED: { status: 401, message: 'This route requires a bearer token or an API key.' },
  TOKEN_INVALID: { status: 401, message: 'The bearer token is invalid.' },
  TOKEN_EXPIRED: { status: 401, message: 'The bearer token has expired.' },
  TOKEN_NOT_YET_VALID: { status: 401, message: 'The bearer token is not valid yet.' },
  API_KEY_INVALID: { status: 401, message: 'The API key is invalid, expired or revoked.' },
  LOGIN_FAILED: {
    status: 401,
    message: 'Sign-in failed; start again from the page you wanted.',
  },
  UPSTREAM_UNAUTHENTICATED: {
    status: 401,
    message: 'The upstream service rejected the credentials.',
  },
  INSUFFICIENT_SCOPE: { status: 403, message: 'The credentials lack a scope this route requires.' },
  TENANT_FORBIDDEN: { status: 403, message: 'The credentials do not grant access to this tenant.' },
  IDENTITY_MISMATCH: {
    status: 403,
    message: 'X-User-ID does not match the authenticated principal.',
  },
  CSRF_REJECTED: {
    status: 403,
    message: 'A state-changing request with the session cookie must come from this site.',
  },
  UPSTREAM_FORBIDDEN: { status: 403, message: 'The upstream service denied access.' },
  ROUTE_NOT_FOUND: { status: 404, message: 'No route matches this path.' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'This method is not supported.' },
  RATE_LIMITED: { status: 429, message: 'Too many requests; retry later.' },
  HEADERS_TOO_LARGE: {
    status: 431,
    message: 'The request headers are too large.',
  },
  INTERNAL_ERROR: { status: 500, message: 'The proxy failed to handle the request.' },
  UPSTREAM_UNAVAILABLE: { status: 502, message: 'The upstream service could not be reached.' },
  AUTH_SERVICE_UNAVAILABLE: {
    status: 503,
    message: 'The authentication service is unavailable; retry later.',
  },
  SHUTTING_DOWN: { status: 503, message: 'The proxy is shutting down; retry on another instance.' },
  UPSTREAM_TIMEOUT: { status: 504, message: 'The upstream service did not answer in time.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** Category titles, the `error` field of the body. */
export const STATUS_TITLES: Readonly<Record<number, string>> = {
  400: 'Bad request',
  401: 'Authentication failed',
  403: 'Insufficient permissions',
  404: 'Not found',
  405: 'Method not allowed',
  429: 'Too many requests',
  431: 'Request header fields too large',
  500: 'Internal error',
  502: 'Bad gateway',
  503: 'Service unavailable',
  504: 'Gateway timeout',
};

export type ErrorOrigin = 'proxy' | 'upstream';

export interface AuthgateErrorOptions {
  /** Replaces the catalogue message. Must never contain a credential, URL, query or header value. */
  message?: string;
  origin?: ErrorOrigin;
  /** Extra response headers (e.g. Retry-After); never echo request data here. */
  headers?: Record<string, string>;
  /** RFC 6750 `error=` attribute for WWW-Authenticate on a rejected credential. */
  bearerError?: 'invalid_request' | 'invalid_token' | 'insufficient_scope';
  /** Stable machine reason for logs and metrics (e.g. `connect_refused`, `bad_signature`). */
  reason?: string;
  /** Upstream's own JSON error fields, kept under `upstream` in the body. */
  upstream?: { error_code?: string; message?: string };
  /**
   * What explains the decision in the audit line (issuer, kid, algorithm, token fingerprint,
   * audience received, seconds since expiry, missing scopes). Logged, masked like every field;
   * never part of a response body.
   */
  details?: Readonly<Record<string, unknown>>;
  cause?: unknown;
  /**
   * Browser sign-in: answered as a 302 to `location` instead of the typed error (a browser
   * navigation sent to sign in), with authgate's cookies to set or clear.
   */
  redirect?: { location: string };
  /** Set-Cookie values sent with the answer (authgate's own cookies only). */
  cookies?: readonly string[];
  /** A browser (Accept: text/html) gets a short HTML page instead of the JSON body. */
  page?: boolean;
}

export class AuthgateError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly origin: ErrorOrigin;
  readonly headers: Readonly<Record<string, string>>;
  readonly bearerError: AuthgateErrorOptions['bearerError'];
  readonly reason: string;
  readonly upstream: AuthgateErrorOptions['upstream'];
  details: Readonly<Record<string, unknown>> | undefined;
  readonly redirect: AuthgateErrorOptions['redirect'];
  readonly cookies: readonly string[];
  readonly page: boolean;

  constructor(code: ErrorCode, options: AuthgateErrorOptions = {}) {
    super(options.message ?? ERROR_CATALOG[code].message, { cause: options.cause });
    this.name = 'AuthgateError';
    this.code = code;
    this.status = ERROR_CATALOG[code].status;
    this.origin = options.origin ?? 'proxy';
    this.headers = options.headers ?? {};
    this.bearerError = options.bearerError;
    this.reason = options.reason ?? code.toLowerCase();
    this.upstream = options.upstream;
    this.details = options.details;
    this.redirect = options.redirect;
    this.cookies = options.cookies ?? [];
    this.page = options.page ?? false;
  }

  get title(): string {
    return STATUS_TITLES[this.status] ?? 'Error';
  }
}

export function isAuthgateError(value: unknown): value is AuthgateError {
  return value instanceof AuthgateError;
}

/** Any thrown value becomes a typed error; unknown ones are wrapped, never exposed. */
export function toAuthgateError(value: unknown): AuthgateError {
  if (isAuthgateError(value)) return value;
  return new AuthgateError('INTERNAL_ERROR', { reason: 'internal', cause: value });
}

export type ErrorStyle = 'authgate' | 'mlflow';

/**
 * `errorStyle: mlflow` (docs/design.md#typed-errors): the MLflow `ErrorCode` names MLflow clients know, by
 * status. The MLflow client turns `error_code` into `RestException.error_code` and logs a
 * warning for a name it does not know, so only these names are used.
 */
export const MLFLOW_ERROR_CODES: Readonly<Record<number, string>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'ENDPOINT_NOT_FOUND',
  405: 'BAD_REQUEST',
  429: 'REQUEST_LIMIT_EXCEEDED',
  431: 'BAD_REQUEST',
  500: 'INTERNAL_ERROR',
  502: 'TEMPORARILY_UNAVAILABLE',
  503: 'TEMPORARILY_UNAVAILABLE',
  504: 'TEMPORARILY_UNAVAILABLE',
};

export interface ErrorBody {
  error: string;
  /** The authgate code; in mlflow style the MLflow ErrorCode name. */
  error_code: string;
  /** mlflow style: the authgate code that error_code replaced. */
  authgate_code?: ErrorCode;
  message: string;
  status: number;
  origin: ErrorOrigin;
  request_id: string;
  upstream?: { error_code?: string; message?: string };
}

export function errorBody(
  err: AuthgateError,
  requestId: string,
  style: ErrorStyle = 'authgate',
): ErrorBody {
  const mlflow = style === 'mlflow';
  const body: ErrorBody = {
    error: err.title,
    error_code: mlflow ? (MLFLOW_ERROR_CODES[err.status] ?? 'INTERNAL_ERROR') : err.code,
    ...(mlflow ? { authgate_code: err.code } : {}),
    // The MLflow client shows "<error_code>: <message>": keep authgate's precise code in it.
    message: mlflow ? `${err.message} [authgate: ${err.code}]` : err.message,
    status: err.status,
    origin: err.origin,
    request_id: requestId,
  };
  if (err.upstream) body.upstream = err.upstream;
  return body;
}
