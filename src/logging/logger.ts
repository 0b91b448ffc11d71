/**
 * Structured JSON logs through winston, one object per line. Every line a request causes
 * carries its `request_id`; lines the process writes on its own carry `request_id: null`.
 */
import type { Writable } from 'node:stream';
import winston from 'winston';
import { FastLineWriter } from './fast-line';
import { createMasker, createScrubber, type MaskRules } from './mask';
import { lineStream, writeLines } from './stdout';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFields = Record<string, unknown>;

export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  isDebugEnabled(): boolean;
  /** Writes the lines still batched for this event-loop turn (before exit or a shutdown ends). */
  flush(): void;
}

/** A logger that writes nothing (one-shot CLI checks that report on their own). */
export const NOOP_LOGGER: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  isDebugEnabled: () => false,
  flush: () => undefined,
};

export interface LoggerOptions {
  level: LogLevel;
  /** Where lines go; stdout when absent (tests pass a capture stream). */
  stream?: Writable;
  /** Extra names and shapes to mask (config); the built-in lists always apply. */
  mask?: MaskRules;
  /** Flat lines bypass winston's format pipeline (default); false sends every line through it. */
  fastLines?: boolean;
  /**
   * Flat lines are written once per event-loop turn. Default: to stdout yes; to a stream the
   * caller gave no (the caller may read it right away).
   */
  batchLines?: boolean;
}

/** The fast path's stdout: whole lines that never tear (stdout.ts). */
const stdoutLines = {
  write(text: string): boolean {
    writeLines(1, text);
    return true;
  },
};

export function createLogger(options: LoggerOptions): Logger {
  // To stdout: whole lines in writes that never tear between workers (stdout.ts), on both paths.
  const transport = new winston.transports.Stream({ stream: options.stream ?? lineStream(1) });
  const mask = createMasker(options.mask);
  const fast = new FastLineWriter(
    options.stream ?? stdoutLines,
    createScrubber(options.mask?.apiKeyPrefixes, options.mask?.queryParams),
    { service: 'authgate' },
    options.batchLines ?? options.stream === undefined,
    (key) => mask.sensitive(key),
  );
  if (!options.stream) process.once('exit', () => fast.flush());
  // Every field of every line goes through the masker before it is formatted.
  const masking = winston.format((info) => {
    for (const key of Object.keys(info)) {
      if (key === 'level') continue;
      // Top-level keys are masked by name too, as nested ones are: `{password: ...}`.
      (info as Record<string, unknown>)[key] = mask.sensitive(key)
        ? mask.maskField(info[key])
        : mask(info[key]);
    }
    return info;
  });
  const w = winston.createLogger({
    level: options.level,
    format: winston.format.combine(masking(), winston.format.timestamp(), winston.format.json()),
    defaultMeta: { service: 'authgate' },
    transports: [transport],
  });
  const fastLines = options.fastLines !== false;
  const log = (level: LogLevel) => {
    // winston formats before it filters by level: disabled levels are skipped here, decided once
    // (the level is fixed for a logger's life).
    if (!w.isLevelEnabled(level)) return (): void => undefined;
    return (message: string, fields: LogFields = {}): void => {
      // A flat line without a field whose name says it holds a secret (every request's access
      // and audit lines) skips winston's format pipeline.
      if (fastLines && fast.tryWrite(level, message, fields)) return;
      fast.flush();
      w.log(level, message, { request_id: null, ...fields });
    };
  };
  return {
    error: log('error'),
    warn: log('warn'),
    info: log('info'),
    debug: log('debug'),
    isDebugEnabled: () => w.isDebugEnabled(),
    flush: () => fast.flush(),
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
