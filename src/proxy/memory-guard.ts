/**
 * Bounds the memory that streamed bodies leave behind. Node allocates a fresh buffer for every
 * socket read; the buffers die as soon as they are written on, but V8 only frees them on a
 * garbage collection, and it starts one for external memory only after ~64 MB have piled up.
 * Streaming gigabytes at wire speed therefore grows RSS by that much before anything is freed.
 * A minor (young-generation) GC frees those buffers early; it costs well under a millisecond and
 * runs only while large bodies flow. The signal is the memory itself: every quarter
 * of `limitBytes` streamed, the guard reads how much ArrayBuffer memory is held, and collects
 * only when more than `limitBytes` is — when V8's own scavenges kept up, it does nothing (a
 * fixed every-16-MB GC cost a quarter of the proxy's CPU per GiB).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type Gc = (options?: { type?: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

function exposeGc(): Gc | undefined {
  const existing = (globalThis as { gc?: Gc }).gc;
  if (existing) return existing;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as Gc | undefined;
    setFlagsFromString('--no-expose-gc');
    return gc;
  } catch {
    return undefined;
  }
}

export class StreamMemoryGuard {
  private streamed = 0;
  private readonly gc: Gc | undefined;
  private readonly checkBytes: number;
  /** Collections made (tests, diagnostics). */
  collections = 0;

  constructor(
    private readonly limitBytes = 16 * 1024 * 1024,
    private readonly held: () => number = () => process.memoryUsage().arrayBuffers,
  ) {
    this.gc = limitBytes > 0 ? exposeGc() : undefined;
    this.checkBytes = Math.max(1, Math.floor(limitBytes / 4));
  }

  /** Counts streamed body bytes; collects young garbage when buffers pile up. */
  count(bytes: number): void {
    if (!this.gc) return;
    this.streamed += bytes;
    if (this.streamed < this.checkBytes) return;
    this.streamed = 0;
    if (this.held() > this.limitBytes) {
      this.collections++;
      this.gc({ type: 'minor' });
    }
  }
}
