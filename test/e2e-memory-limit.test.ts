/**
 * The memory limiter. Over its soft limit the daemon stops reading connections that send
 * telemetry, so their clients keep it, and reads them again, losing nothing, once it is back
 * under; connections that only ask are served throughout. Over its hard limit, telemetry that
 * still arrives is refused: a request with a retryable -32018, a notification counted as dropped
 * `memory_limited`. The limits are set low in config.toml so that a real daemon is over them
 * from its start; a reload lifts them.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

import { createMemoryLimiter, MEMORY_RETRY_AFTER_MS, QUIET_MS, STARTUP_QUIET_MS } from '../daemon/memory-limiter.js';
import { createDaemonLogger } from '../daemon/logger.js';
import { type DaemonStatus, encodeFrame, ErrorCodes } from '../protocol/index.js';
import { createTestHome, type DaemonProcess, runCli, startDaemonProcess, type TestHome } from './support/daemon.js';
import { openRawPeer, type RawPeer } from './support/raw-client.js';

const MIB = 1024 * 1024;

async function statusOf(control: RawPeer, id: number): Promise<DaemonStatus.Result> {
  const answer = await control.request(id, 'daemon/status', {});
  return answer.result as DaemonStatus.Result;
}

/** Polls until `test` holds for a status, or fails after `timeoutMs`. */
async function waitForStatus(control: RawPeer, test: (status: DaemonStatus.Result) => boolean, timeoutMs = 10_000): Promise<DaemonStatus.Result> {
  const until = Date.now() + timeoutMs;
  for (let id = 1000; ; id++) {
    const status = await statusOf(control, id);
    if (test(status)) return status;
    if (Date.now() > until) throw new Error(`status never matched: ${JSON.stringify({ memory: status.memory, metrics: status.signals.metrics })}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const record = (value: number) => ({ records: [{ name: 'codex.test.memory', kind: 'counter', value }] });

describe('memory limiter, end to end', () => {
  let home: TestHome | undefined;
  let daemon: DaemonProcess | undefined;

  afterEach(async () => {
    await daemon?.stop();
    home?.remove();
    home = daemon = undefined;
  });

  it('a daemon with nothing to do gives back what start-up took soon after it starts (an empty hand-off folder is not telemetry), then rests', async () => {
    home = createTestHome();
    daemon = await startDaemonProcess(home);
    const started = Date.now();
    // Well before QUIET_MS, which telemetry (or a scan of the hand-off folder taken for it) would impose.
    const deadline = started + STARTUP_QUIET_MS + (QUIET_MS - STARTUP_QUIET_MS) / 2;
    let status = await daemon.status();
    while (status.memory.released === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      status = await daemon.status();
    }
    expect(status.memory.released, `released ${Date.now() - started} ms after the socket was ready`).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect((await daemon.status()).memory.released).toBe(1);
  });

  it('over the soft limit holds a sending connection back, serves the others, and takes everything once under it again', async () => {
    home = createTestHome();
    home.writeConfig('[codexd]\nmemory_limit_mib = 4096\n');
    daemon = await startDaemonProcess(home);
    const sender = await openRawPeer(home.socketPath);
    await sender.initialize('memory-sender');
    sender.send({ jsonrpc: '2.0', method: 'metric/record', params: record(1) });
    const control = await openRawPeer(home.socketPath);
    await control.initialize('memory-control');
    await waitForStatus(control, (status) => status.signals.metrics.received === 1);

    // A soft limit of 1 MiB: the daemon is over it from now on.
    home.writeConfig('[codexd]\nmemory_limit_mib = 4096\nmemory_spike_limit_mib = 4095\n');
    expect((await control.request(2, 'daemon/reload', {})).error).toBeUndefined();
    expect((await statusOf(control, 3)).memory).toMatchObject({ state: 'soft', softLimitBytes: 1 * MIB });
    // Nine batches in one write, one chunk for the daemon: it reads it, but hands none of it on.
    sender.write(Buffer.concat([2, 3, 4, 5, 6, 7, 8, 9, 10].map((value) => encodeFrame({ jsonrpc: '2.0', method: 'metric/record', params: record(value) }))));
    const held = await waitForStatus(control, (status) => status.memory.pausedConnections === 1);
    expect(held.memory.softEntered).toBeGreaterThanOrEqual(1);
    // Nothing more is taken in while the limiter holds; nothing is dropped either.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const still = await statusOf(control, 4);
    expect(still.signals.metrics.received).toBe(1);
    expect(still.signals.metrics.droppedTotal).toBe(0);

    const text = await runCli(home, ['status']);
    expect(text.stdout).toMatch(/memory: over the soft limit since \S+; 1 connections waiting; telemetry connections are not read/);

    // Lifted by a reload: what was kept is handed on, the connection is read again, and every
    // batch arrives.
    home.writeConfig('[codexd]\nmemory_limit_mib = 4096\n');
    expect((await control.request(5, 'daemon/reload', {})).error).toBeUndefined();
    const after = await waitForStatus(control, (status) => status.signals.metrics.received === 10);
    expect(after.memory.state).toBe('ok');
    expect(after.memory.pausedConnections).toBe(0);
    expect(after.signals.metrics.accepted).toBe(10);
    expect(after.signals.metrics.droppedTotal).toBe(0);
    // And it is read as ever.
    sender.send({ jsonrpc: '2.0', method: 'metric/record', params: record(11) });
    await waitForStatus(control, (status) => status.signals.metrics.received === 11);
    sender.destroy();
    control.destroy();
  }, 30_000);

  it('over the hard limit refuses telemetry: a request with a retryable -32018, a notification counted as memory_limited', async () => {
    home = createTestHome();
    // Soft and hard at 1 MiB: always over.
    home.writeConfig('[codexd]\nmemory_limit_mib = 1\nmemory_spike_limit_mib = 0\n');
    daemon = await startDaemonProcess(home);

    const requester = await openRawPeer(home.socketPath);
    await requester.initialize('memory-requester');
    const refused = await requester.request(1, 'metric/record', record(5));
    const error = refused.error as { code: number; message: string; data: { retryAfterMs: number } };
    expect(error.code).toBe(ErrorCodes.Overloaded);
    expect(error.message).toMatch(/over its memory limit \(\d+ MiB held of 1 MiB\) and took none of these records/);
    expect(error.data).toEqual({ retryAfterMs: MEMORY_RETRY_AFTER_MS });

    const spans = await openRawPeer(home.socketPath);
    await spans.initialize('memory-spans');
    const span = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), name: 'turn/start', startTime: Date.now() - 5, endTime: Date.now() };
    const refusedSpans = await spans.request(1, 'trace/span', { spans: [span] });
    expect((refusedSpans.error as { code: number }).code).toBe(ErrorCodes.Overloaded);

    const notifier = await openRawPeer(home.socketPath);
    await notifier.initialize('memory-notifier');
    notifier.send({ jsonrpc: '2.0', method: 'metric/record', params: { records: [{ name: 'codex.test.memory', kind: 'histogram', value: 1 }, { name: 'codex.test.memory', kind: 'histogram', value: 2 }] } });

    const control = await openRawPeer(home.socketPath);
    await control.initialize('memory-control');
    const status = await waitForStatus(control, (candidate) => (candidate.signals.metrics.dropped.memory_limited ?? 0) === 3);
    expect(status.memory.state).toBe('hard');
    expect(status.memory.hardEntered).toBeGreaterThanOrEqual(1);
    expect(status.signals.metrics.accepted).toBe(0);
    expect(status.signals.traces.dropped.memory_limited).toBe(1);
    expect(status.protocolErrors.memory_limited).toBe(3);
    for (const peer of [requester, spans, notifier, control]) peer.destroy();
  }, 30_000);

  it('refuses a spike limit that leaves no soft limit, naming the key', async () => {
    home = createTestHome();
    home.writeConfig('[codexd]\nmemory_limit_mib = 64\nmemory_spike_limit_mib = 64\n');
    const result = await runCli(home, ['config', 'check']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('codexd.memory_spike_limit_mib');
    expect(result.stderr).toContain('an integer from 0 to less than memory_limit_mib (64)');
  });
});

describe('memory limiter states', () => {
  function limiterWith(held: { value: number }) {
    const pressure: number[] = [];
    const limiter = createMemoryLimiter({
      hardLimitBytes: 100 * MIB,
      softLimitBytes: 80 * MIB,
      logger: createDaemonLogger(null, 'silent').logger,
      onPressure: () => pressure.push(held.value),
      read: () => ({ held: held.value, rss: held.value * 2 }),
    });
    return { limiter, pressure };
  }

  it('goes to soft, then hard, back to soft, and to ok only below the soft limit less a tenth of the spike', async () => {
    const held = { value: 10 * MIB };
    const { limiter, pressure } = limiterWith(held);
    const wait = () => new Promise((resolve) => setTimeout(resolve, 110));
    expect(limiter.check()).toBe('ok');
    held.value = 85 * MIB;
    await wait();
    expect(limiter.check()).toBe('soft');
    let released = 0;
    limiter.whenReleased(() => released++);
    expect(limiter.status().pausedConnections).toBe(1);
    held.value = 120 * MIB;
    await wait();
    expect(limiter.check()).toBe('hard');
    held.value = 90 * MIB;
    await wait();
    expect(limiter.check()).toBe('soft');
    // Under the soft limit (80) but within a tenth of the spike (2 MiB) of it: still held.
    held.value = 79 * MIB;
    await wait();
    expect(limiter.check()).toBe('soft');
    expect(released).toBe(0);
    held.value = 70 * MIB;
    await wait();
    expect(limiter.check()).toBe('ok');
    expect(released).toBe(1);
    expect(limiter.status()).toMatchObject({ state: 'ok', softEntered: 1, hardEntered: 1, pausedConnections: 0, heldBytes: 70 * MIB });
    // The export queues are asked to spill at every reading over the soft limit (the limiter's
    // own timer reads too while it holds), and at none under it.
    expect(new Set(pressure)).toEqual(new Set([85 * MIB, 120 * MIB, 90 * MIB]));
    limiter.stop();
  });

  it("reads memory at the first telemetry, however soon after the process's start it comes", () => {
    // performance.now() counts from the process's start: a daemon that starts fast can take its
    // first telemetry within 100 ms of it, which must not pass for a recent reading.
    const now = vi.spyOn(performance, 'now').mockReturnValue(40);
    try {
      const { limiter } = limiterWith({ value: 120 * MIB });
      expect(limiter.check()).toBe('hard');
      limiter.stop();
    } finally {
      now.mockRestore();
    }
  });

  it("collects before it refuses, however soon after the process's start", () => {
    // Garbage alone over the hard limit in the daemon's first second (a journal replayed at
    // start, say): a collection takes it back under, and nothing is refused or paused.
    const now = vi.spyOn(performance, 'now').mockReturnValue(40);
    const global = globalThis as { gc?: unknown };
    const saved = global.gc;
    let collected = false;
    global.gc = () => void (collected = true);
    try {
      const limiter = createMemoryLimiter({
        hardLimitBytes: 100 * MIB,
        softLimitBytes: 80 * MIB,
        logger: createDaemonLogger(null, 'silent').logger,
        onPressure: () => undefined,
        read: () => ({ held: collected ? 50 * MIB : 120 * MIB, rss: 200 * MIB }),
      });
      expect(limiter.check()).toBe('ok');
      expect(collected).toBe(true);
      limiter.stop();
    } finally {
      global.gc = saved;
      now.mockRestore();
    }
  });

  it('reads memory at most every 100 ms on the ingest path, and lets a waiting reader go when it is cancelled', async () => {
    let reads = 0;
    const limiter = createMemoryLimiter({
      hardLimitBytes: 100 * MIB,
      softLimitBytes: 1 * MIB,
      logger: createDaemonLogger(null, 'silent').logger,
      onPressure: () => undefined,
      read: () => {
        reads++;
        return { held: 50 * MIB, rss: 0 };
      },
    });
    const before = reads;
    for (let i = 0; i < 1000; i++) limiter.holding();
    expect(reads - before).toBeLessThanOrEqual(1);
    let called = false;
    const cancel = limiter.whenReleased(() => (called = true));
    cancel();
    expect(limiter.status().pausedConnections).toBe(0);
    expect(called).toBe(false);
    limiter.stop();
  });
});

