/**
 * The memory limiter's release also trims the C allocator (daemon/allocator-trim.ts): in a real
 * process that freed 60 MiB of Buffers kept apart by live ones, the trim gives the pages back.
 */
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ROOT, runProcess } from './support/daemon.js';

describe('allocator trim', () => {
  it.runIf(process.platform === 'linux')('returns the pages glibc kept after Buffers between live ones were freed', async () => {
    const run = await runProcess(['--expose-gc', join(ROOT, 'test/fixtures/fragment-and-trim.mjs')], process.env, 30_000);
    expect(run.code, run.stderr).toBe(0);
    // node:ffi warns that it is experimental; the daemon's log must not carry it.
    expect(run.stderr).toBe('');
    const reading = JSON.parse(run.stdout) as { available: boolean; start: number; freed: number; trimmed: number };
    // This project's Node (26, glibc) has node:ffi: the trim must be there, not quietly absent.
    expect(reading.available).toBe(true);
    // Freed but kept by malloc: about 60 MiB over the start; trimmed: back within a few MiB of it.
    expect(reading.freed - reading.start).toBeGreaterThan(40);
    expect(reading.freed - reading.trimmed).toBeGreaterThan(40);
  });
});
