import { StreamMemoryGuard } from '../../../src/proxy/memory-guard';

const MB = 1024 * 1024;

describe('StreamMemoryGuard ( the held memory is the signal)', () => {
  it('collects only when more than the limit is held, checking every quarter of it', () => {
    let held = 0;
    const guard = new StreamMemoryGuard(16 * MB, () => held);
    // V8 keeps up on its own: 64 MB streamed, never more than 10 MB held, no collection.
    held = 10 * MB;
    for (let i = 0; i < 64; i++) guard.count(MB);
    expect(guard.collections).toBe(0);
    // Buffers pile up: a collection at the next check (every 4 MB streamed), and one per check
    // while the memory stays high.
    held = 20 * MB;
    for (let i = 0; i < 3; i++) guard.count(MB);
    expect(guard.collections).toBe(0);
    guard.count(MB);
    expect(guard.collections).toBe(1);
    for (let i = 0; i < 8; i++) guard.count(MB);
    expect(guard.collections).toBe(3);
  });

  it('does nothing when turned off (0)', () => {
    const guard = new StreamMemoryGuard(0, () => 1024 * MB);
    for (let i = 0; i < 100; i++) guard.count(MB);
    expect(guard.collections).toBe(0);
  });
});
