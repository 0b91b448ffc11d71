/**
 * The HTTPS listener (`server.tls`, docs/tls.md): certificate, key and client CA read from their
 * files at start and re-read when they change — rotation without a restart. A new set that does
 * not load keeps the current one serving, with an error line; each reload gets an info line.
 */
import { readFileSync } from 'node:fs';
import type { SecureContextOptions } from 'node:tls';
import type { Clock } from './clock';
import type { Config } from './config/schema';
import { watchFiles } from './file-watch';
import type { Logger } from './logging/logger';

export type TlsConfig = NonNullable<Config['server']['tls']>;

function files(tls: TlsConfig): string[] {
  return [tls.certFile, tls.keyFile, ...(tls.clientCaFile ? [tls.clientCaFile] : [])];
}

/** The PEM material of the listener (throws a readable error naming the file). */
export function readTlsFiles(tls: TlsConfig): SecureContextOptions {
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(
        `server.tls.${what} cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        { cause: err },
      );
    }
  };
  return {
    cert: read(tls.certFile, 'certFile'),
    key: read(tls.keyFile, 'keyFile'),
    ...(tls.clientCaFile ? { ca: read(tls.clientCaFile, 'clientCaFile') } : {}),
  };
}

/** Watches the files; calls `apply` with the new material when they change. Returns the stop. */
export function watchTlsFiles(
  tls: TlsConfig,
  apply: (material: SecureContextOptions) => void,
  clock: Clock,
  logger: Logger,
): () => void {
  return watchFiles({
    files: files(tls),
    read: () => readTlsFiles(tls),
    apply,
    clock,
    intervalMs: tls.reloadIntervalMs,
    logger,
    reloaded: 'tls certificate reloaded',
    failed: 'tls reload failed; the current certificate keeps serving',
    fields: { cert_file: tls.certFile },
  });
}
