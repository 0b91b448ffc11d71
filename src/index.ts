/**
 * The public API of the `authgate` package (docs/design.md#library-api).
 *
 * @example
 *   import { createAuthgate, loadConfig } from 'authgate';
 *   const gate = await createAuthgate(await loadConfig('config/authgate.yaml'));
 *   http.createServer(gate.handler).listen(8080);
 */
export {
  createAuthgate,
  loadConfig,
  type Authgate,
  type AuthenticateOptions,
  type AuthgateRequestInfo,
  type CreateAuthgateOptions,
  type Middleware,
} from './embed';
export { ConfigError, parseConfig, type ConfigProblem } from './config/load';
export type { Config, RouteConfig, IssuerConfig, ApiKeysConfig } from './config/schema';
export {
  AuthgateError,
  ERROR_CATALOG,
  isAuthgateError,
  type ErrorCode,
  type ErrorBody,
  type ErrorOrigin,
  type ErrorStyle,
} from './errors';
export type { Principal } from './request-scope';
export type { Logger, LogFields, LogLevel } from './logging/logger';
export type { Clock } from './clock';
export { startServer, type RunningServer } from './server';
