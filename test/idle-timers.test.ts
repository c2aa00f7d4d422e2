import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ExportResultCode } from '@opentelemetry/core';
import { emptyResource } from '@opentelemetry/resources';
import { AggregationTemporality } from '@opentelemetry/sdk-metrics';
import { createAccountedReader } from '../daemon/accounted-metric-reader.js';
import { openJournal } from '../daemon/delivery/journal.js';
import type { CountedMetricExporter } from '../daemon/delivery/queued-exporters.js';
import { createDaemonLogger } from '../daemon/logger.js';
import { createMemoryLimiter, QUIET_MS, RELEASE_GROWTH_BYTES, STARTUP_QUIET_MS } from '../daemon/memory-limiter.js';
import { createMetricAggregation } from '../daemon/metric-aggregation.js';
import { createSignalStats } from '../daemon/stats.js';

// An idle daemon should not wake up: the parts that tick do so only while they have work.
// Only intervals and the clock are faked: the SDK's own collection deadlines stay real timeouts.
describe('timers at rest', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('the journal ticks only while it has lines to write or files to close', () => {
    const dir = mkdtempSync(join(tmpdir(), 'codexd-idle-journal-'));
    try {
      const journal = openJournal({ dir, counts: { accepted: () => 0, settled: () => 0 }, maxBytes: 1 << 30, onPressure: () => undefined, onError: (message) => expect.fail(message) });
      expect(vi.getTimerCount()).toBe(0);
      journal.append({ m: [{ name: 'codex.a', kind: 'counter', value: 1 }] });
      expect(vi.getTimerCount()).toBe(1);
      // The lines are written, then the file is closed once nothing is unsettled; then it rests.
      vi.advanceTimersByTime(10_000);
      expect(vi.getTimerCount()).toBe(0);
      journal.append({ m: [{ name: 'codex.b', kind: 'counter', value: 1 }] });
      expect(vi.getTimerCount()).toBe(1);
      journal.close();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the metric reader collects on its interval only from a record until a collection finds nothing', async () => {
    let uncollected = 0;
    let takes = 0;
    const exports: number[] = [];
    const exportCounted: CountedMetricExporter['exportCounted'] = (_metrics, records, _passed, done) => {
      exports.push(records);
      done({ code: ExportResultCode.SUCCESS });
    };
    const exporter = {
      exportCounted,
      selectAggregationTemporality: () => AggregationTemporality.DELTA,
      forceFlush: () => Promise.resolve(),
      shutdown: () => Promise.resolve(),
      export: () => undefined,
    } as unknown as CountedMetricExporter;
    const accounted = createAccountedReader({
      exporter,
      stats: createSignalStats(),
      intervalMs: 1000,
      exportTimeoutMs: 5000,
      takeUncollected: () => {
        takes++;
        const records = uncollected;
        uncollected = 0;
        return { records, passed: [] };
      },
      collect: () => ({ resource: emptyResource(), scopeMetrics: aggregation.collect(Date.now()) }),
      onError: (message) => expect.fail(message),
    });
    const aggregation = createMetricAggregation({ boundaries: [], cardinalityLimit: 100 });
    const counter = aggregation.meter({ name: 'codex', version: '' }).create('codex.test.calls', 'counter');
    expect(vi.getTimerCount()).toBe(0);

    counter.record(1, {}, Date.now());
    uncollected++;
    accounted.wake();
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(exports).toEqual([1]);
    // The next tick finds nothing accepted since: the interval stops.
    await vi.advanceTimersByTimeAsync(1000);
    expect(takes).toBe(2);
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(takes).toBe(2);

    // A record after rest starts it again, and its export comes one interval later.
    counter.record(2, {}, Date.now());
    uncollected++;
    accounted.wake();
    await vi.advanceTimersByTimeAsync(1000);
    expect(exports).toEqual([1, 1]);
    await accounted.shutdown();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('the memory limiter gives back what start-up and each load took once telemetry stops, and then rests', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance', 'Date'] });
    const MIB = 1024 * 1024;
    let rss = 60 * MIB;
    const limiter = createMemoryLimiter({ hardLimitBytes: 512 * MIB, softLimitBytes: 448 * MIB, logger: createDaemonLogger(null, 'silent').logger, onPressure: () => undefined, read: () => ({ held: 20 * MIB, rss }) });
    // Start-up is given back once, STARTUP_QUIET_MS after it, then nothing is armed.
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(STARTUP_QUIET_MS - 1);
    expect(limiter.status().released).toBe(0);
    vi.advanceTimersByTime(1);
    expect(limiter.status().released).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    // Telemetry arrives; memory stays near where it settled: nothing is armed.
    for (let i = 0; i < 50; i++) {
      vi.advanceTimersByTime(200);
      limiter.check();
    }
    expect(vi.getTimerCount()).toBe(0);
    // A load grows it: one timer, however much more arrives.
    rss += RELEASE_GROWTH_BYTES + MIB;
    for (let i = 0; i < 100; i++) {
      vi.advanceTimersByTime(200);
      limiter.check();
    }
    expect(vi.getTimerCount()).toBe(1);
    expect(limiter.status().released).toBe(1);
    // Telemetry stops: after QUIET_MS, one release, and nothing armed after it.
    vi.advanceTimersByTime(QUIET_MS);
    expect(limiter.status().released).toBe(2);
    expect(vi.getTimerCount()).toBe(0);
    // What it could not give back is where memory settles: telemetry arriving again arms nothing.
    for (let i = 0; i < 50; i++) {
      vi.advanceTimersByTime(200);
      limiter.check();
    }
    expect(vi.getTimerCount()).toBe(0);
    limiter.stop();
  });

  it('telemetry arriving before start-up is given back puts the release off until QUIET_MS after the last of it', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance', 'Date'] });
    const MIB = 1024 * 1024;
    const limiter = createMemoryLimiter({ hardLimitBytes: 512 * MIB, softLimitBytes: 448 * MIB, logger: createDaemonLogger(null, 'silent').logger, onPressure: () => undefined, read: () => ({ held: 20 * MIB, rss: 60 * MIB }) });
    vi.advanceTimersByTime(STARTUP_QUIET_MS / 2);
    limiter.check();
    vi.advanceTimersByTime(QUIET_MS - 1);
    expect(limiter.status().released).toBe(0);
    vi.advanceTimersByTime(1);
    expect(limiter.status().released).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
    limiter.stop();
  });
});
