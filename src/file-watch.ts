/**
 * Files authgate re-reads when they change (TLS certificates and keys, CA bundles): their
 * stat is compared every `intervalMs` on the one clock; a change is read and applied, a set
 * that does not load keeps the current material, with an error line. Rotation without restart.
 */
import { statSync } from 'node:fs';
import type { Clock } from './clock';
import type { Logger } from './logging/logger';

/** mtime, size and inode of each file ("missing" for one that is not there). */
export function filesFingerprint(files: readonly string[]): string {
  return files
    .map((f) => {
      try {
        const st = statSync(f);
        return `${st.mtimeMs}:${st.size}:${st.ino}`;
      } catch {
        return 'missing';
      }
    })
    .join('|');
}

/** Calls `changed` whenever the files' stat differs from the last look (every `intervalMs`). */
export function onFilesChange(
  files: readonly string[],
  clock: Clock,
  intervalMs: number,
  changed: () => void,
): () => void {
  let seen = filesFingerprint(files);
  return clock.every(intervalMs, () => {
    const now = filesFingerprint(files);
    if (now === seen) return;
    seen = now;
    changed();
  });
}

export interface WatchFiles<T> {
  files: readonly string[];
  read(): T;
  apply(material: T): void;
  clock: Clock;
  intervalMs: number;
  logger: Logger;
  /** The info line on success ("tls certificate reloaded"); failures say "<what> reload failed". */
  reloaded: string;
  failed: string;
  fields: Record<string, unknown>;
}

/** Watches the files; returns the stop. */
export function watchFiles<T>(w: WatchFiles<T>): () => void {
  return onFilesChange(w.files, w.clock, w.intervalMs, () => {
    try {
      w.apply(w.read());
      w.logger.info(w.reloaded, w.fields);
    } catch (err) {
      w.logger.error(w.failed, {
        ...w.fields,
        reason: err instanceof Error ? err.message : 'error',
      });
    }
  });
}
