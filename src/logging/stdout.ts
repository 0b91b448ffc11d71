/**
 * Log output to the process's stdout that never tears (docs/design.md#logging). With
 * `serve --workers N` every worker writes to the same stdout pipe. Node's own stdout stream
 * queues writes while the pipe is full and then hands them to the kernel several at a time, in
 * pieces: another worker's line could land in the middle of one of ours. Here every write is a
 * direct `write(2)` of whole lines, at most PIPE_BUF bytes — which a pipe takes whole or not at
 * all — made synchronously, so a process's lines also keep their order. A full pipe blocks the
 * writer until there is room, as a synchronous stdout would. A single line longer than PIPE_BUF
 * cannot be atomic; it is written alone.
 */
import { writeSync } from 'node:fs';
import { Writable } from 'node:stream';

/** PIPE_BUF on Linux: a write to a pipe of at most this many bytes is never interleaved. */
export const ATOMIC_WRITE_BYTES = 4096;

const pause = new Int32Array(new SharedArrayBuffer(4));

/** Descriptors whose reader is gone (EPIPE): their lines are dropped, the process goes on. */
const closed = new Set<number>();

/**
 * Writes all of `bytes` to `fd`, waiting (1 ms at a time) while a non-blocking pipe is full.
 * A pipe whose reader has gone (EPIPE) cannot take lines any more: they are dropped from then
 * on — one note on stderr — and authgate keeps serving, as a daemon ignoring SIGPIPE does.
 */
function writeAll(fd: number, bytes: Buffer): void {
  if (closed.has(fd)) return;
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset, bytes.length - offset);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') {
        closed.add(fd);
        if (fd !== 2) {
          try {
            writeSync(
              2,
              `authgate: the reader of fd ${fd} is gone (EPIPE): its log lines are dropped\n`,
            );
          } catch {
            /* stderr gone too: nothing left to tell */
          }
        }
        return;
      }
      if (code !== 'EAGAIN') throw err;
      Atomics.wait(pause, 0, 0, 1);
    }
  }
}

/**
 * `text` (whole lines) cut into the writes writeLines makes: whole lines, as many as fit in
 * ATOMIC_WRITE_BYTES; a longer line is a write of its own.
 */
export function atomicChunks(text: string): Buffer[] {
  const all = Buffer.from(text);
  const chunks: Buffer[] = [];
  let start = 0;
  while (start < all.length) {
    let end = start + ATOMIC_WRITE_BYTES;
    if (end >= all.length) end = all.length;
    else {
      const nl = all.lastIndexOf(10, end - 1);
      if (nl >= start) end = nl + 1;
      else {
        const next = all.indexOf(10, end);
        end = next === -1 ? all.length : next + 1;
      }
    }
    chunks.push(all.subarray(start, end));
    start = end;
  }
  return chunks;
}

/** Writes `text` (whole lines) to `fd`: each of atomicChunks(text) in one write. */
export function writeLines(fd: number, text: string): void {
  for (const chunk of atomicChunks(text)) writeAll(fd, chunk);
}

/** A stream over writeLines, for the logger's other path (winston). */
export function lineStream(fd: number): Writable {
  return new Writable({
    decodeStrings: false,
    write(chunk: string | Buffer, _encoding, callback): void {
      try {
        writeLines(fd, typeof chunk === 'string' ? chunk : chunk.toString());
        callback();
      } catch (err) {
        callback(err as Error);
      }
    },
  });
}
