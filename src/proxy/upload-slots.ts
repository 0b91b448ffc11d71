/**
 * Streamed request bodies in flight per (upstream origin, client address): one client that
 * trickles many uploads could otherwise hold every pooled connection to an upstream, and every
 * other route's requests to it would wait (docs/design.md, "Upstream pools").
 */
import { AuthgateError } from '../errors';

export class UploadSlots {
  private readonly held = new Map<string, number>();

  constructor(private readonly perClient: number) {}

  /** Takes a slot, or throws 429; the returned function gives it back (once). */
  take(origin: string, clientIp: string): () => void {
    const key = `${origin} ${clientIp}`;
    const n = this.held.get(key) ?? 0;
    if (n >= this.perClient) {
      throw new AuthgateError('RATE_LIMITED', {
        message: 'Too many uploads in flight from this address; retry when one finished.',
        headers: { 'Retry-After': '1' },
        reason: 'uploads_per_client',
      });
    }
    this.held.set(key, n + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const left = (this.held.get(key) ?? 1) - 1;
      if (left <= 0) this.held.delete(key);
      else this.held.set(key, left);
    };
  }
}
