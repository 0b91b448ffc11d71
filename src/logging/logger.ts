/**
 * Structured JSON logs through winston, one object per line. Every line a request causes
 * carries its `request_id`; lines the process writes on its own carry `request_id: null`.
 */
import type { Writable } from 'node:stream';
import winston from 'winston';
import { createMasker, type MaskRules } from './mask';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFields = Record<string, unknown>;

export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  isDebugEnabled(): boolean;
}

export interface LoggerOptions {
  level: LogLevel;
  /** Where lines go; stdout when absent (tests pass a capture stream). */
  stream?: Writable;
  /** Extra names and shapes to mask (config); the built-in lists always apply. */
  mask?: MaskRules;
}

export function createLogger(options: LoggerOptions): Logger {
  const transport = options.stream
    ? new winston.transports.Stream({ stream: options.stream })
    : new winston.transports.Console();
  const mask = createMasker(options.mask);
  // Every field of every line goes through the masker before it is formatted.
  const masking = winston.format((info) => {
    for (const key of Object.keys(info)) {
      if (key === 'level') continue;
      (info as Record<string, unknown>)[key] = mask(info[key]);
    }
    return info;
  });
  const w = winston.createLogger({
    level: options.level,
    format: winston.format.combine(masking(), winston.format.timestamp(), winston.format.json()),
    defaultMeta: { service: 'authgate' },
    transports: [transport],
  });
  const log =
    (level: LogLevel) =>
    (message: string, fields: LogFields = {}): void => {
      // winston formats before it filters by level: skip disabled levels here (hot path).
      if (!w.isLevelEnabled(level)) return;
      w.log(level, message, { request_id: null, ...fields });
    };
  return {
    error: log('error'),
    warn: log('warn'),
    info: log('info'),
    debug: log('debug'),
    isDebugEnabled: () => w.isDebugEnabled(),
  };
}

/** The logger a config asks for: its level, and its extra masked names and key prefixes. */
export function createLoggerFromConfig(
  config: Readonly<{
    logging: {
      level: LogLevel;
      maskHeaders: readonly string[];
      maskQueryParams: readonly string[];
    };
    auth: { apiKeys?: { prefixes: readonly string[]; header: string } };
  }>,
  stream?: Writable,
): Logger {
  const apiKeys = config.auth.apiKeys;
  return createLogger({
    level: config.logging.level,
    stream,
    mask: {
      headers: [...config.logging.maskHeaders, ...(apiKeys ? [apiKeys.header] : [])],
      queryParams: config.logging.maskQueryParams,
      apiKeyPrefixes: apiKeys?.prefixes ?? [],
    },
  });
}
