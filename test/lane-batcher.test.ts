/**
 * A lane's batcher: full batches go at once, a partial one after the delay, a flush sends what
 * waits and waits for every export still open, and no timer runs while nothing waits.
 */
import { describe, expect, it, vi } from 'vitest';

import { createLaneBatcher } from '../daemon/lane-batcher.js';

function harness(delayMs = 50) {
  const exported: number[][] = [];
  const open: (() => void)[] = [];
  const batcher = createLaneBatcher<number>({
    maxBatch: 3,
    delayMs,
    export: (batch, done) => {
      exported.push(batch);
      open.push(done);
    },
  });
  const settleAll = (): void => {
    for (const done of open.splice(0)) done();
  };
  return { batcher, exported, open, settleAll };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('lane batcher', () => {
  it('exports a full batch at once, the next when it settles, and the rest after the delay, in order', async () => {
    const { batcher, exported, settleAll } = harness();
    for (let i = 1; i <= 7; i++) batcher.add(i);
    // One export open at a time: a burst waits in the batcher.
    expect(exported).toEqual([[1, 2, 3]]);
    await sleep(80);
    expect(exported).toEqual([[1, 2, 3]]);
    settleAll();
    expect(exported).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    settleAll();
    expect(exported).toHaveLength(2);
    await sleep(80);
    expect(exported).toEqual([[1, 2, 3], [4, 5, 6], [7]]);
  });

  it('keeps order through a long burst', () => {
    const { batcher, exported, settleAll } = harness(60_000);
    for (let i = 0; i < 100; i++) batcher.add(i);
    while (exported.flat().length < 99) settleAll();
    void batcher.forceFlush();
    expect(exported.flat()).toEqual([...Array(100).keys()]);
    expect(exported.every((batch) => batch.length <= 3)).toBe(true);
  });

  it('runs a timer only while something waits', () => {
    vi.useFakeTimers();
    try {
      const { batcher, exported, settleAll } = harness(60_000);
      expect(vi.getTimerCount()).toBe(0);
      batcher.add(1);
      batcher.add(2);
      expect(vi.getTimerCount()).toBe(1);
      void batcher.forceFlush();
      // The flush sent the batch and cleared its timer, though its export is still open.
      expect(exported).toEqual([[1, 2]]);
      expect(vi.getTimerCount()).toBe(0);
      // While an export is open, what comes waits for it to settle, then for the delay.
      batcher.add(3);
      expect(vi.getTimerCount()).toBe(0);
      settleAll();
      expect(vi.getTimerCount()).toBe(1);
      vi.advanceTimersByTime(60_000);
      expect(exported).toEqual([[1, 2], [3]]);
      expect(vi.getTimerCount()).toBe(0);
      settleAll();
    } finally {
      vi.useRealTimers();
    }
  });

  it('flushes what waits, in batches, and resolves once every open export has settled', async () => {
    const { batcher, exported, open, settleAll } = harness(60_000);
    for (let i = 1; i <= 5; i++) batcher.add(i);
    let flushed = false;
    const flush = batcher.forceFlush().then(() => (flushed = true));
    expect(exported).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    await sleep(5);
    expect(flushed).toBe(false);
    // A second settle call of one batch counts once.
    open[0]?.();
    open[0]?.();
    await sleep(5);
    expect(flushed).toBe(false);
    settleAll();
    await flush;
    expect(flushed).toBe(true);
    await batcher.forceFlush();
  });

  it('exports what is added after shutdown at once', async () => {
    const { batcher, exported, settleAll } = harness(60_000);
    batcher.add(1);
    const stopped = batcher.shutdown();
    settleAll();
    await stopped;
    batcher.add(2);
    expect(exported).toEqual([[1], [2]]);
  });
});
