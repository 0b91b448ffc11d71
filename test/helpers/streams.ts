import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

const BLOCK = randomBytes(64 * 1024);

/** `total` bytes of varying content, produced lazily (never held in memory), with its hash. */
export function patternStream(total: number): { stream: Readable; digest: () => string } {
  const hash = createHash('sha256');
  let sent = 0;
  let n = 0;
  const stream = new Readable({
    read() {
      if (sent >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(BLOCK.length, total - sent);
      const chunk = Buffer.from(BLOCK.subarray(0, size));
      if (size >= 4) chunk.writeUInt32BE(n++ >>> 0, 0); // every block differs
      hash.update(chunk);
      sent += size;
      this.push(chunk);
    },
  });
  return { stream, digest: () => hash.digest('hex') };
}
