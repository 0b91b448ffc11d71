/**
 * Structured JSON logs through winston, one object per line. Every line a request causes
 * carries its `request_id`; lines the process writes on its own carry `request_id: null`.
 */
import type { Writable } from 'node:stream';
import winston from 'winston';

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
}

export function createLogger(options: LoggerOptions): Logger {
  const transport = options.stream
    ? new winston.transports.Stream({ stream: options.stream })
    : new winston.transports.Console();
  const w = winston.createLogger({
    level: options.level,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
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
