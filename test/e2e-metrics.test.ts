/**
 * The metric path end to end: client processes -> socket -> daemon process -> OTLP/gRPC ->
 * a real receiver decoding the protobufs. Totals must be exact.
 */
import { join } from 'node:path';

import { beforeEach, describe, expect, it } from 'vitest';

import { type DaemonProcess, grpcConfig, ROOT, runNode, type TestHome } from './support/daemon.js';
import { useHarness } from './support/harness.js';
import type { OtlpReceiver } from './support/otlp-receiver.js';

const RECORDER = join(ROOT, 'test/fixtures/record-metrics.mjs');

interface RecorderStats {
  connected: boolean;
  buffered: number;
  sent: number;
  handedOff: number;
  dropped: Record<string, number>;
  errors: string[];
}

describe('metrics end to end', () => {
  let home: TestHome;
  let receiver: OtlpReceiver;
  let daemon: DaemonProcess | undefined;

  const harness = useHarness();
  beforeEach(async () => {
    home = harness.home();
    receiver = await harness.receiver();
    home.writeConfig(grpcConfig(receiver.endpoint));
  });

  it('8 concurrent client processes x 10,000 tagged increments arrive as exactly 80,000, split by tag, over the socket and by hand-off file alike', async () => {
    daemon = await harness.daemon();
    const clients = Array.from({ length: 8 }, (_, index) => `client-${index}`);
    // Half of them write to the socket (flush() before close()); half close at once, handing over a file.
    const runs = await Promise.all(clients.map((name, index) => runNode(home, RECORDER, [name, '10000', 'tagged', index % 2 === 0 ? 'socket' : 'file'])));
    const stats = runs.map((run) => {
      expect(run.code, run.stderr).toBe(0);
      return JSON.parse(run.stdout) as RecorderStats;
    });
    stats.forEach((stat, index) => {
      expect(stat.dropped).toEqual({});
      expect(stat.buffered).toBe(0);
      if (index % 2 === 0) expect(stat).toMatchObject({ handedOff: 0 });
      else expect(stat).toMatchObject({ sent: 0 });
      expect(stat.sent + stat.handedOff).toBeGreaterThan(0);
    });

    await receiver.waitFor(() => receiver.sumOf('codex.test.calls') >= 80_000, 15_000);
    const flushed = await daemon.request<{ complete: boolean }>('daemon/flush', {});
    expect(flushed.complete).toBe(true);

    expect(receiver.sumOf('codex.test.calls')).toBe(80_000);
    for (const name of clients) expect(receiver.sumOf('codex.test.calls', { client: name })).toBe(10_000);
    // 10,000 = 3,334 + 3,333 + 3,333 per client for i % 3.
    expect(receiver.sumOf('codex.test.calls', { tool: 'shell' })).toBe(8 * 3334);
    expect(receiver.sumOf('codex.test.calls', { tool: 'read' })).toBe(8 * 3333);
    expect(receiver.sumOf('codex.test.calls', { tool: 'write' })).toBe(8 * 3333);

    const points = receiver.points().filter((point) => point.name === 'codex.test.calls');
    expect(new Set(points.map((point) => point.temporality))).toEqual(new Set(['delta']));
    expect(points.every((point) => point.monotonic === true)).toBe(true);
    // Each client's points under its own resource: its clientInfo is the service, codexd the distribution.
    for (const name of clients) {
      const own = points.filter((point) => point.resource['service.name'] === name);
      expect(own.length).toBeGreaterThan(0);
      expect(own.every((point) => point.attributes.client === name)).toBe(true);
    }
    const resource = points[0]?.resource ?? {};
    expect(resource['telemetry.distro.name']).toBe('codexd');
    expect(typeof resource['host.name']).toBe('string');
    expect(resource['deployment.environment.name']).toBe('dev');

    // Status counts what the clients delivered, either way (after their summing of identical increments).
    const sent = stats.reduce((total, stat) => total + stat.sent + stat.handedOff, 0);
    const status = await daemon.status();
    expect(status.signals.metrics).toMatchObject({ received: sent, accepted: sent, rejectedTotal: 0, exported: sent, buffered: 0, failed: 0, droppedTotal: 0 });
    expect(status.exporters[0]).toMatchObject({ kind: 'otlp-grpc', state: 'ok', endpoint: receiver.endpoint });
  });

  it('histograms arrive with the exact count and sum, gauges with their value', async () => {
    daemon = await harness.daemon();
    const runs = await Promise.all([
      runNode(home, RECORDER, ['hist-a', '1000', 'histogram']),
      runNode(home, RECORDER, ['hist-b', '500', 'histogram']),
      runNode(home, RECORDER, ['gauge', '42', 'gauge']),
    ]);
    for (const run of runs) expect(run.code, run.stderr).toBe(0);
    await daemon.request('daemon/flush', {});

    expect(receiver.histogramTotals('codex.test.latency_ms', { client: 'hist-a' })).toEqual({ count: 1000, sum: (1000 * 1001) / 2 });
    expect(receiver.histogramTotals('codex.test.latency_ms', { client: 'hist-b' })).toEqual({ count: 500, sum: (500 * 501) / 2 });
    const histogram = receiver.points().find((point) => point.name === 'codex.test.latency_ms');
    expect(histogram?.unit).toBe('ms');
    expect(histogram?.explicitBounds?.slice(0, 4)).toEqual([0, 5, 10, 25]);
    const gauge = receiver.points().find((point) => point.name === 'codex.test.depth');
    expect(gauge).toMatchObject({ kind: 'gauge', value: 42 });
  });

  it('records made before the daemon is up wait in the client and arrive once it is', async () => {
    const recording = runNode(home, RECORDER, ['early', '300', 'tagged'], 30_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    daemon = await harness.daemon();
    const run = await recording;
    expect(run.code, run.stderr).toBe(0);
    await daemon.request('daemon/flush', {});
    expect(receiver.sumOf('codex.test.calls', { client: 'early' })).toBe(300);
  });

  it('SIGTERM exports what was accepted before exiting 0', async () => {
    // A long interval: only the shutdown flush can deliver these.
    home.writeConfig(grpcConfig(receiver.endpoint, 600_000));
    daemon = await harness.daemon();
    const run = await runNode(home, RECORDER, ['late', '5000', 'tagged']);
    expect(run.code, run.stderr).toBe(0);
    // The recorder handed its records over as a file: accepted once the daemon has taken it in.
    // A stopping daemon takes no more files (they wait for the next one), so wait for that first.
    await expect.poll(async () => (await daemon?.status())?.handoff.filesIngested, { timeout: 5000, interval: 20 }).toBe(1);
    expect(receiver.sumOf('codex.test.calls')).toBe(0);
    const exit = await daemon.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    expect(receiver.sumOf('codex.test.calls', { client: 'late' })).toBe(5000);
  });

  it('keeps what the collector refuses, retries it, shows the exporter failing, and delivers it exactly once when it recovers', async () => {
    daemon = await harness.daemon();
    receiver.setBehavior('unavailable');
    const early = await runNode(home, RECORDER, ['early-down', '90', 'tagged']);
    expect(early.code, early.stderr).toBe(0);
    await expect
      .poll(async () => (await daemon?.status())?.exporters[0]?.state, { timeout: 15_000, interval: 200 })
      .toBe('failing');
    const failing = await daemon.status();
    // 90 increments over 3 tags arrive as 3 summed records: held, not lost.
    expect(failing.signals.metrics).toMatchObject({ accepted: 3, exported: 0, failed: 0, buffered: 3, droppedTotal: 0 });
    expect(failing.exporters[0]?.lastError?.message).toMatch(/UNAVAILABLE/);
    expect(failing.exporters[0]?.queue?.failures).toBeGreaterThan(0);
    expect(failing.exporters[0]?.queue?.memoryBatches).toBeGreaterThan(0);

    const during = await runNode(home, RECORDER, ['during', '30', 'tagged']);
    expect(during.code, during.stderr).toBe(0);
    receiver.setBehavior('ok');
    await daemon.request('daemon/flush', {});
    // Delta temporality makes a duplicate visible: each sum is exact.
    expect(receiver.sumOf('codex.test.calls', { client: 'early-down' })).toBe(90);
    expect(receiver.sumOf('codex.test.calls', { client: 'during' })).toBe(30);
    const recovered = await daemon.status();
    expect(recovered.exporters[0]?.state).not.toBe('failing');
    expect(recovered.signals.metrics).toMatchObject({ accepted: 6, exported: 6, buffered: 0, failed: 0 });
  });
});
