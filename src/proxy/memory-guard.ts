/**
 * Bounds the memory that streamed bodies leave behind. Node allocates a fresh buffer for every
 * socket read; the buffers die as soon as they are written on, but V8 only frees them on a
 * garbage collection, and it starts one for external memory only after ~64 MB have piled up.
 * Streaming gigabytes at wire speed therefore grows RSS by that much before anything is freed.
 * A minor (young-generation) GC every `everyBytes` streamed frees those buffers early; it
 * costs well under a millisecond and runs only while large bodies flow.
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

  constructor(private readonly everyBytes = 16 * 1024 * 1024) {
    this.gc = everyBytes > 0 ? exposeGc() : undefined;
  }

  /** Counts streamed body bytes; collects young garbage every `everyBytes`. */
  count(bytes: number): void {
    if (!this.gc) return;
    this.streamed += bytes;
    if (this.streamed >= this.everyBytes) {
      this.streamed = 0;
      this.gc({ type: 'minor' });
    }
  }
}
