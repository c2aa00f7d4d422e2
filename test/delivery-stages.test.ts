/**
 * Each stage of an export queue on its own: the outcome predicates, the timeout decorator, the
 * memory buffer, the spool replayer and the send loop. The queue they make up together is
 * tested in delivery-units.test.ts; the backoff formula in backoff.test.ts.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { createMemoryBuffer, type QueuedBatch, type Spill } from '../daemon/delivery/memory-buffer.js';
import { openSegmentSpool, type SegmentSpool, type SpooledBatch } from '../daemon/delivery/segment-spool.js';
import { type BatchSource, createSendLoop, type SendLoopState } from '../daemon/delivery/send-loop.js';
import { withSendTimeout } from '../daemon/delivery/send-timeout.js';
import { isPermanent, isRetryable, isSent, permanent, retryable, SENT, type Sender, type SendOutcome } from '../daemon/delivery/sender.js';
import { createSpoolReplayer } from '../daemon/delivery/spool-replayer.js';
import { createSignalStats } from '../daemon/stats.js';

const dirs: string[] = [];
function spoolDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cdx-stages-'));
  dirs.push(dir);
  return join(dir, 'metrics');
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function batch(tag: string, records: number, size = 100): SpooledBatch {
  return { bytes: Buffer.from(`batch-${tag}-`.padEnd(size, '.')), records, createdAt: 1_700_000_000_000 };
}
const tagOf = (one: { readonly bytes: Uint8Array }): string => Buffer.from(one.bytes).toString().replace(/\.+$/, '');
const segmentFiles = (dir: string): string[] => readdirSync(dir).filter((name) => name.endsWith('.seg'));

describe('send outcomes', () => {
  it('are told apart by predicates', () => {
    const outcomes: SendOutcome[] = [SENT, retryable('UNAVAILABLE', 80), permanent('HTTP 400 Bad Request')];
    expect(outcomes.map(isSent)).toEqual([true, false, false]);
    expect(outcomes.map(isRetryable)).toEqual([false, true, false]);
    expect(outcomes.map(isPermanent)).toEqual([false, false, true]);
    expect(retryable('timed out')).toEqual({ kind: 'retryable', message: 'timed out', retryAfterMs: null });
  });
});

describe('send timeout decorator', () => {
  it('passes on the shorter of its timeout and the budget, at least 1 ms, and closes the sender it wraps', async () => {
    const timeouts: number[] = [];
    let closed = 0;
    const inner: Sender = {
      send: (_bytes, timeoutMs) => (timeouts.push(timeoutMs), Promise.resolve(SENT)),
      close: () => void closed++,
    };
    const sender = withSendTimeout(inner, 5_000);
    for (const budget of [Infinity, 10_000, 1_200, 0.4, -3]) expect(await sender.send(Buffer.from('x'), budget)).toBe(SENT);
    expect(timeouts).toEqual([5_000, 5_000, 1_200, 1, 1]);
    sender.close();
    expect(closed).toBe(1);
  });
});

describe('memory buffer', () => {
  function buffer(maxBytes: number, spool: SegmentSpool | null) {
    const stats = createSignalStats();
    const spills: Spill[] = [];
    const writes: [unknown, number][] = [];
    const errors: string[] = [];
    const memory = createMemoryBuffer({ signal: 'metrics', maxBytes, spool, stats, onError: (message) => errors.push(message), onSpoolWrite: (error, records) => writes.push([error, records]), onSpilled: (spill) => spills.push(spill) });
    const add = (tag: string, records: number): void => memory.add(batch(tag, records).bytes, records);
    return { memory, stats, spills, writes, errors, add };
  }

  it('holds batches in order within its bound, and past it spills the oldest to the spool down to half', () => {
    const spool = openSegmentSpool(spoolDir(), 1 << 20);
    const { memory, stats, spills, writes, add } = buffer(350, spool);
    add('a', 1);
    add('b', 2);
    add('c', 3);
    expect(memory.oldest()?.records).toBe(1);
    expect([memory.batches(), memory.bytes()]).toEqual([3, 300]);
    // The fourth takes it to 400 > 350: the oldest go until at most 175 bytes are left.
    add('d', 4);
    expect([memory.batches(), memory.bytes()]).toEqual([1, 100]);
    expect(spills.map((spill) => spill.moved.map(tagOf))).toEqual([['batch-a-', 'batch-b-', 'batch-c-']]);
    expect(spills[0]).toMatchObject({ written: 3, skipped: 0, droppedSegments: [] });
    expect(tagOf(spool.oldest()?.batches[0] as SpooledBatch)).toBe('batch-a-');
    expect(stats.snapshot().spooled).toBe(6);
    expect(memory.spooledRecords()).toBe(6);
    expect(writes).toEqual([[null, 6]]);
  });

  it('spills everything when asked, and removes only its oldest batch', () => {
    const spool = openSegmentSpool(spoolDir(), 1 << 20);
    const { memory, add } = buffer(1 << 20, spool);
    add('a', 1);
    add('b', 1);
    const oldest = memory.oldest() as QueuedBatch;
    memory.spill(0);
    expect(memory.batches()).toBe(0);
    // A batch a spill moved away is no longer the buffer's to remove.
    memory.removeOldest(oldest);
    expect([memory.batches(), memory.bytes()]).toEqual([0, 0]);
    add('c', 1);
    const c = memory.oldest() as QueuedBatch;
    memory.removeOldest(c);
    expect([memory.batches(), memory.bytes()]).toEqual([0, 0]);
    expect(spool.oldest()?.batches.map(tagOf)).toEqual(['batch-a-', 'batch-b-']);
  });

  it('without a spool drops what a spill moves, counted as queue_full; a failed write is counted as spool_failed', () => {
    const dropping = buffer(250, null);
    dropping.add('a', 1);
    dropping.add('b', 2);
    dropping.add('c', 3);
    expect(dropping.stats.snapshot()).toMatchObject({ failed: 3, dropped: { queue_full: 3 } });
    expect(dropping.spills).toEqual([]);

    const broken = { append: () => { throw new Error('EIO: i/o error'); }, segments: () => 0, bytes: () => 0 } as unknown as SegmentSpool;
    const failing = buffer(1 << 20, broken);
    failing.add('a', 4);
    failing.memory.spill(0);
    expect(failing.stats.snapshot()).toMatchObject({ failed: 4, dropped: { spool_failed: 4 } });
    expect(failing.writes).toEqual([[expect.any(Error), 4]]);
    expect(failing.errors).toEqual([expect.stringContaining('metrics spool write failed, 4 records lost: EIO')]);
  });
});

describe('spool replayer', () => {
  it('gives the oldest segment first, batch by batch, and removes each segment once it is settled', () => {
    const dir = spoolDir();
    const spool = openSegmentSpool(dir, 1 << 20);
    spool.append([batch('a', 1), batch('b', 2)]);
    spool.append([batch('c', 3)]);
    const replayer = createSpoolReplayer({ signal: 'metrics', spool, stats: createSignalStats(), onError: () => undefined });
    const order: string[] = [];
    for (let next = replayer.next(), sent = true; next !== null; next = replayer.next(), sent = !sent) {
      expect(next.replayed).toBe(true);
      expect(replayer.replaying()).toBe(true);
      order.push(tagOf(next));
      replayer.settle(next, sent);
    }
    expect(order).toEqual(['batch-a-', 'batch-b-', 'batch-c-']);
    expect(replayer.counts()).toEqual({ exported: 4, dropped: 2 });
    expect(replayer.replaying()).toBe(false);
    expect(segmentFiles(dir)).toEqual([]);
  });

  it('gives the same batch again until it is settled, and lets go of a segment the bound dropped', () => {
    const spool = openSegmentSpool(spoolDir(), 1 << 20);
    spool.append([batch('a', 1), batch('b', 2)]);
    const replayer = createSpoolReplayer({ signal: 'metrics', spool, stats: createSignalStats(), onError: () => undefined });
    const first = replayer.next() as QueuedBatch;
    expect(tagOf(replayer.next() as QueuedBatch)).toBe('batch-a-');
    replayer.forget([first.segment as string]);
    expect(replayer.replaying()).toBe(false);
    // Settled after its segment was let go: counted, nothing marked on disk.
    replayer.settle(first, true);
    expect(replayer.counts()).toEqual({ exported: 1, dropped: 0 });
  });

  it('marks the first batch of a segment done when a batch spilled while on the wire was settled', () => {
    const dir = spoolDir();
    const spool = openSegmentSpool(dir, 1 << 20);
    const { name } = spool.append([batch('wire', 5), batch('next', 1)]);
    const replayer = createSpoolReplayer({ signal: 'metrics', spool, stats: createSignalStats(), onError: () => undefined });
    expect(tagOf(replayer.next() as QueuedBatch)).toBe('batch-wire-');
    replayer.settleFirstOf(name as string, 2, 5, false);
    expect(tagOf(replayer.next() as QueuedBatch)).toBe('batch-next-');
    expect(replayer.counts()).toEqual({ exported: 0, dropped: 5 });
  });

  it('reports and counts the damaged batches of a segment once, when it opens', () => {
    const spool = { oldest: () => ({ name: 's1', batches: [], sent: 0, total: 3, corrupt: 3, corruptRecords: 12 }), markSent: () => undefined, segments: () => 0 } as unknown as SegmentSpool;
    let opened = 0;
    const counted = createSignalStats();
    const errors: string[] = [];
    const replayer = createSpoolReplayer({
      signal: 'logs',
      spool: { ...spool, oldest: () => (opened++ === 0 ? spool.oldest() : null) },
      stats: counted,
      onError: (message) => errors.push(message),
    });
    expect(replayer.next()).toBeNull();
    expect(replayer.next()).toBeNull();
    expect(counted.snapshot().dropped).toEqual({ spool_corrupt: 12 });
    expect(errors).toEqual(['logs spool: 3 damaged batches in s1 skipped']);
  });
});

describe('send loop', () => {
  /** A source over a list of tags, recording what it was told. */
  function listSource(tags: string[]) {
    const settled: [string, string][] = [];
    let failing = 0;
    const source: BatchSource<{ bytes: Uint8Array; tag: string }> = {
      next: () => (tags[0] === undefined ? null : { bytes: Buffer.from(tags[0]), tag: tags[0] }),
      settleMoved: () => false,
      settle(one, outcome) {
        settled.push([one.tag, outcome.kind]);
        tags.shift();
      },
      failing: () => void failing++,
    };
    return { source, settled, failing: () => failing };
  }

  function recordingSender(answer: () => SendOutcome | Promise<SendOutcome>): Sender & { got: string[] } {
    const got: string[] = [];
    return { got, send: (bytes) => (got.push(Buffer.from(bytes).toString()), Promise.resolve(answer())), close: () => undefined };
  }

  async function waitFor(condition: () => boolean): Promise<void> {
    const until = Date.now() + 5000;
    while (!condition()) {
      if (Date.now() > until) throw new Error('timed out waiting');
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }

  it('goes idle -> waiting -> sending -> idle, settling each batch in order', async () => {
    const { source, settled } = listSource(['a', 'b']);
    const sender = recordingSender(() => SENT);
    const states: SendLoopState[] = [];
    const loop = createSendLoop({ signal: 'metrics', sender, source, retry: { initialMs: 10, maxMs: 20 }, onError: () => undefined, onStopped: () => undefined });
    states.push(loop.state());
    loop.schedule();
    states.push(loop.state());
    await waitFor(() => settled.length === 2);
    await new Promise((resolve) => setTimeout(resolve, 5));
    states.push(loop.state());
    expect(states).toEqual(['idle', 'waiting', 'idle']);
    expect(settled).toEqual([['a', 'ok'], ['b', 'ok']]);
    expect(sender.got).toEqual(['a', 'b']);
  });

  it('after a retryable failure counts it, tells the source, and waits the backoff (at least the Retry-After)', async () => {
    const { source, failing } = listSource(['a']);
    const sender = recordingSender(() => retryable('UNAVAILABLE', 60_000));
    const errors: string[] = [];
    const loop = createSendLoop({ signal: 'logs', sender, source, retry: { initialMs: 10, maxMs: 20 }, onError: (message) => errors.push(message), onStopped: () => undefined });
    const before = Date.now();
    expect(await loop.flush(1000)).toBe(false);
    expect(loop.state()).toBe('waiting');
    expect(failing()).toBe(1);
    expect(loop.status()).toMatchObject({ failures: 1, lastError: { message: 'UNAVAILABLE' } });
    expect(loop.status().nextAttemptAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(errors).toEqual(['logs export failed, will retry: UNAVAILABLE']);
    await loop.stop(Date.now());
  });

  it('a permanent refusal is settled, counted as the last error, and does not count as a failure in a row', async () => {
    const { source, settled } = listSource(['a', 'b']);
    const loop = createSendLoop({ signal: 'metrics', sender: recordingSender(() => permanent('INVALID_ARGUMENT')), source, retry: { initialMs: 10, maxMs: 20 }, onError: () => undefined, onStopped: () => undefined });
    expect(await loop.flush(1000)).toBe(true);
    expect(settled).toEqual([['a', 'permanent'], ['b', 'permanent']]);
    expect(loop.status()).toMatchObject({ failures: 0, nextAttemptAt: 0, lastError: { message: 'INVALID_ARGUMENT' } });
  });

  it('stops: stopping while the send on the wire ends, then stopped, telling onStopped once; sends ending later are not settled', async () => {
    const { source, settled } = listSource(['a', 'b']);
    let finish: (outcome: SendOutcome) => void = () => undefined;
    const sender = recordingSender(() => new Promise<SendOutcome>((resolve) => (finish = resolve)));
    const stops: SendLoopState[] = [];
    const loop = createSendLoop({ signal: 'metrics', sender, source, retry: { initialMs: 10, maxMs: 20 }, onError: () => undefined, onStopped: () => stops.push(loop.state()) });
    void loop.flush(10_000);
    await waitFor(() => sender.got.length === 1);
    expect(loop.state()).toBe('sending');
    const stopping = loop.stop(Date.now() + 50);
    expect(loop.stop(Date.now() + 60_000)).toBe(stopping);
    expect(loop.state()).toBe('stopping');
    await stopping;
    expect(loop.state()).toBe('stopped');
    expect(stops).toEqual(['stopped']);
    finish(SENT);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(settled).toEqual([]);
    // Nothing is scheduled again.
    loop.schedule();
    expect(loop.state()).toBe('stopped');
    expect(sender.got).toEqual(['a']);
  });

  it('a new sender gets the next attempt at once, whatever the backoff said', async () => {
    const { source, settled } = listSource(['a']);
    const old = recordingSender(() => retryable('UNAVAILABLE'));
    const loop = createSendLoop({ signal: 'metrics', sender: old, source, retry: { initialMs: 60_000, maxMs: 60_000 }, onError: () => undefined, onStopped: () => undefined });
    expect(await loop.flush(1000)).toBe(false);
    const fresh = recordingSender(() => SENT);
    await loop.setSender(fresh);
    expect(loop.status().failures).toBe(0);
    await waitFor(() => settled.length === 1);
    expect(fresh.got).toEqual(['a']);
  });
});
