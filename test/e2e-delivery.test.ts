/**
 * Delivery when the collector is down or hangs: the export queue retries, a stop spills what it
 * could not send to disk within its deadline, and the next daemon sends it, in order, once.
 * Delta temporality makes a duplicate or a loss visible in every sum.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { createTestHome, type DaemonProcess, grpcConfig, ROOT, runCli, runNode, startDaemonProcess, type TestHome } from './support/daemon.js';
import { makeTestPki } from './support/certificates.js';
import { openAcceptingJournal } from './support/journal.js';
import { startOtlpHttpReceiver, sumOf } from './support/otlp-http-receiver.js';
import { type OtlpReceiver, startOtlpReceiver } from './support/otlp-receiver.js';
import { openRawPeer, type RawPeer } from './support/raw-client.js';

const RECORDER = join(ROOT, 'test/fixtures/record-metrics.mjs');

describe('delivery through outages', () => {
  let home: TestHome | undefined;
  let receiver: OtlpReceiver | undefined;
  let daemon: DaemonProcess | undefined;
  let peer: RawPeer | undefined;

  async function setUp(extra = ''): Promise<{ home: TestHome; receiver: OtlpReceiver }> {
    home = createTestHome();
    receiver = await startOtlpReceiver();
    // Retries start fast in tests; the interval is long so only flushes and stops export.
    home.writeConfig(`${grpcConfig(receiver.endpoint, 600_000, { codexd: `export_retry_initial_ms = 50\nexport_retry_max_ms = 200\n${extra}` })}`);
    return { home, receiver };
  }

  async function sendEvents(count: number, sessionId: string): Promise<void> {
    peer = await openRawPeer((home as TestHome).socketPath);
    await peer.initialize('codex-exec');
    await peer.request(1, 'session/start', { sessionId });
    const reply = await peer.request(2, 'session/event', { events: Array.from({ length: count }, (_, index) => ({ sessionId, name: 'codex.sse_event', traceSafe: { n: index } })) });
    expect(reply.result).toEqual({ accepted: count, rejected: [] });
    peer.destroy();
  }

  /**
   * A `codex-exec` host starts session `sessionId` (model gpt-5.1-codex) and sends `total` tool
   * results as notifications, 281 to a message, each with its index as `n`; its connection.
   */
  async function sendToolResults(sessionId: string, total: number): Promise<RawPeer> {
    const host = await openRawPeer((home as TestHome).socketPath);
    await host.initialize('codex-exec');
    await host.request(1, 'session/start', { sessionId, attributes: { model: 'gpt-5.1-codex' } });
    for (let start = 0; start < total; start += 281) {
      const events = Array.from({ length: Math.min(281, total - start) }, (_, index) => ({ sessionId, name: 'codex.tool_result', traceSafe: { tool_name: 'shell', success: true, n: start + index }, durationMs: 2 }));
      host.send({ jsonrpc: '2.0', method: 'session/event', params: { events } });
    }
    return host;
  }

  afterEach(async () => {
    peer?.destroy();
    await daemon?.stop();
    await receiver?.close();
    home?.remove();
    home = receiver = daemon = peer = undefined;
  });

  it('spills to disk what a stop could not send while the collector is down, and the next daemon sends it exactly once', async () => {
    const { home, receiver } = await setUp();
    receiver.setBehavior('unavailable');
    daemon = await startDaemonProcess(home);
    for (const [name, count] of [['first', 3000], ['second', 1500]] as const) {
      const run = await runNode(home, RECORDER, [name, String(count), 'tagged']);
      expect(run.code, run.stderr).toBe(0);
    }
    await sendEvents(40, 'down-1');
    await daemon.request('daemon/flush', {});
    const failing = await daemon.status();
    expect(failing.exporters.every((exporter) => exporter.state === 'failing')).toBe(true);
    expect(failing.signals.metrics).toMatchObject({ exported: 0, failed: 0, droppedTotal: 0 });
    const table = await runCli(home, ['status']);
    expect(table.stdout).toMatch(/queue metrics: \d+ batches \([\d.]+ (B|KiB)\) in memory, 0 segments \(0 B\) on disk, oldest \d+s, \d+ failures in a row, next attempt /);

    const started = Date.now();
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    // The flush deadline is 3 s: a collector that is down does not hold the stop past it.
    expect(Date.now() - started).toBeLessThan(5000);
    expect(receiver.sumOf('codex.test.calls')).toBe(0);

    receiver.setBehavior('ok');
    daemon = await startDaemonProcess(home);
    const current = receiver;
    await current.waitFor(() => current.sumOf('codex.test.calls') >= 4500 && current.logRecords().length >= 40 && current.spans().length >= 40, 15_000, 'the spooled batches');
    // Give a duplicate the time to show.
    await daemon.request('daemon/flush', {});
    expect(receiver.sumOf('codex.test.calls', { client: 'first' })).toBe(3000);
    expect(receiver.sumOf('codex.test.calls', { client: 'second' })).toBe(1500);
    expect(receiver.logRecords()).toHaveLength(40);
    expect(receiver.spans()).toHaveLength(40);
    const status = await daemon.status();
    const metricsQueue = status.exporters.find((exporter) => exporter.signal === 'metrics')?.queue;
    expect(metricsQueue?.replayed.exported).toBeGreaterThan(0);
    expect(metricsQueue).toMatchObject({ spooledSegments: 0, memoryBatches: 0, failures: 0 });
  });

  it('retries while the collector is down, then delivers every record once, in order, without a restart', async () => {
    const { home, receiver } = await setUp();
    daemon = await startDaemonProcess(home);
    receiver.setBehavior('unavailable');
    const batches = 4;
    for (let batch = 0; batch < batches; batch++) {
      const run = await runNode(home, RECORDER, [`b${batch}`, '600', 'tagged']);
      expect(run.code, run.stderr).toBe(0);
      // Each flush hands one batch to the queue, which cannot send it.
      await daemon.request('daemon/flush', { timeoutMs: 200 });
    }
    const queued = (await daemon.status()).exporters[0]?.queue;
    expect(queued?.memoryBatches).toBe(batches);
    expect(queued?.failures).toBeGreaterThan(0);
    receiver.setBehavior('ok');
    const current = receiver;
    await current.waitFor(() => current.sumOf('codex.test.calls') === batches * 600, 15_000, 'the retried batches');
    for (let batch = 0; batch < batches; batch++) expect(receiver.sumOf('codex.test.calls', { client: `b${batch}` })).toBe(600);
    // In order: the batches arrive as they were made.
    const order = receiver.points().filter((point) => point.name === 'codex.test.calls').map((point) => String(point.attributes.client));
    expect([...new Set(order)]).toEqual(['b0', 'b1', 'b2', 'b3']);
    expect((await daemon.status()).signals.metrics).toMatchObject({ buffered: 0, exported: 12, failed: 0 });
  });

  it('does not let a hanging collector hold a stop past its deadline, and keeps what was in flight', async () => {
    const { home, receiver } = await setUp();
    daemon = await startDaemonProcess(home);
    receiver.setBehavior('hang');
    const run = await runNode(home, RECORDER, ['hung', '300', 'tagged']);
    expect(run.code, run.stderr).toBe(0);
    void daemon.request('daemon/flush', { timeoutMs: 200 }).catch(() => undefined);
    await receiver.waitFor(() => receiver.hungCalls > 0, 10_000, 'a hung export');
    const started = Date.now();
    expect(await daemon.stop()).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(3000 + 1500);
    receiver.setBehavior('ok');
    daemon = await startDaemonProcess(home);
    const current = receiver;
    await current.waitFor(() => current.sumOf('codex.test.calls', { client: 'hung' }) >= 300, 15_000, 'the spilled batch');
    expect(receiver.sumOf('codex.test.calls', { client: 'hung' })).toBe(300);
  });

  it('bounds each request by OTEL_EXPORTER_OTLP_METRICS_TIMEOUT, then retries', async () => {
    const { home, receiver } = await setUp();
    home.env.OTEL_EXPORTER_OTLP_METRICS_TIMEOUT = '250';
    daemon = await startDaemonProcess(home);
    receiver.setBehavior('hang');
    expect((await runNode(home, RECORDER, ['slow', '30', 'tagged'])).code).toBe(0);
    void daemon.request('daemon/flush', { timeoutMs: 100 }).catch(() => undefined);
    await receiver.waitFor(() => receiver.hungCalls > 0, 10_000, 'a hung export');
    const hungAt = Date.now();
    // The flush deadline (3 s here) would be the bound without the variable.
    let status = await daemon.status();
    while ((status.exporters[0]?.queue?.failures ?? 0) === 0 && Date.now() - hungAt < 2500) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      status = await daemon.status();
    }
    expect(Date.now() - hungAt).toBeLessThan(1500);
    expect(status.exporters[0]?.queue?.lastError?.message).toMatch(/DEADLINE_EXCEEDED|Deadline exceeded/i);
    receiver.setBehavior('ok');
    const current = receiver;
    await current.waitFor(() => current.sumOf('codex.test.calls', { client: 'slow' }) === 30, 10_000, 'the retried batch');
  });

  it('after kill -9, replays the journal: every request-acknowledged record arrives once, and notifications older than the sync interval too', async () => {
    const { home, receiver } = await setUp();
    daemon = await startDaemonProcess(home);
    peer = await openRawPeer(home.socketPath);
    await peer.initialize('codex-app-server');
    await peer.request(1, 'session/start', { sessionId: 'crash-1', attributes: { model: 'gpt-5.1-codex' } });
    // Requests: each answer means the records are on disk.
    for (let batch = 0; batch < 20; batch++) {
      const reply = await peer.request(10 + batch, 'metric/record', {
        records: [
          { name: 'codex.test.acked', kind: 'counter', value: 5, tags: { batch: String(batch % 4) }, sessionId: 'crash-1' },
          { name: 'codex.test.acked_ms', kind: 'histogram', values: [1, 2, 3], sessionId: 'crash-1' },
        ],
      });
      expect(reply.result).toEqual({ accepted: 4, rejected: [] });
    }
    const events = await peer.request(40, 'session/event', { events: Array.from({ length: 25 }, (_, index) => ({ sessionId: 'crash-1', name: 'codex.tool_result', traceSafe: { tool_name: 'shell', success: true, n: index }, durationMs: 3 })) });
    expect(events.result).toEqual({ accepted: 25, rejected: [] });
    // Notifications, then longer than the journal's sync interval before the kill.
    for (let index = 0; index < 30; index++) peer.send({ jsonrpc: '2.0', method: 'metric/record', params: { records: [{ name: 'codex.test.notified', kind: 'counter', value: 1 }] } });
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(receiver.sumOf('codex.test.acked')).toBe(0);
    peer.destroy();
    daemon.child.kill('SIGKILL');
    await daemon.exited;

    daemon = await startDaemonProcess(home);
    await daemon.request('daemon/flush', {});
    const current = receiver;
    await current.waitFor(() => current.logRecords().length >= 25 && current.spans().length >= 25, 10_000, 'the replayed events');
    expect(receiver.sumOf('codex.test.acked')).toBe(100);
    expect(receiver.sumOf('codex.test.acked', { batch: '0', model: 'gpt-5.1-codex', 'client.name': 'codex-app-server' })).toBe(25);
    expect(receiver.histogramTotals('codex.test.acked_ms')).toEqual({ count: 60, sum: 120 });
    expect(receiver.sumOf('codex.test.notified')).toBe(30);
    // The derived metrics were journaled with the events' metrics: once.
    expect(receiver.sumOf('codex.tool.call', { tool: 'shell' })).toBe(25);
    expect(receiver.logRecords()).toHaveLength(25);
    expect(receiver.spans()).toHaveLength(25);
    // Each as the lanes made it, the session's context (declared once in the journal file) included.
    for (const record of receiver.logRecords()) expect(record.attributes).toMatchObject({ model: 'gpt-5.1-codex', 'session.id': 'crash-1', 'client.name': 'codex-app-server', tool_name: 'shell' });
    for (const span of receiver.spans()) expect(span.attributes).toMatchObject({ model: 'gpt-5.1-codex', 'session.id': 'crash-1', tool_name: 'shell' });
    // A clean stop leaves no journal to replay.
    await daemon.stop();
    daemon = await startDaemonProcess(home);
    await daemon.request('daemon/flush', {});
    expect(receiver.sumOf('codex.test.acked')).toBe(100);
    expect(receiver.logRecords()).toHaveLength(25);
  });

  it('journals notifications without syncing them when they are exported in time; a request is synced before its answer', async () => {
    const { home, receiver } = await setUp();
    daemon = await startDaemonProcess(home);
    peer = await openRawPeer(home.socketPath);
    await peer.initialize('codex-tui');
    for (let index = 0; index < 30; index++) peer.send({ jsonrpc: '2.0', method: 'metric/record', params: { records: [{ name: 'codex.test.notified', kind: 'counter', value: 1 }] } });
    // Past a journal tick: the lines are written.
    await new Promise((resolve) => setTimeout(resolve, 600));
    await daemon.request('daemon/flush', {});
    expect(receiver.sumOf('codex.test.notified')).toBe(30);
    const written = (await daemon.status()).journal;
    expect(written.writes).toBeGreaterThan(0);
    expect(written.writtenBytes).toBeGreaterThan(0);
    expect(written.syncs).toBe(0);
    expect((await peer.request(1, 'metric/record', { records: [{ name: 'codex.test.acked', kind: 'counter', value: 1 }] })).result).toEqual({ accepted: 1, rejected: [] });
    expect((await daemon.status()).journal.syncs).toBeGreaterThan(0);
  });

  it('4 clients record through an outage: when the collector is back every count arrives exactly, nothing twice', async () => {
    const { home, receiver } = await setUp();
    daemon = await startDaemonProcess(home);
    receiver.setBehavior('unavailable');
    const clients = ['c0', 'c1', 'c2', 'c3'];
    const runs = clients.map((name) => runNode(home, RECORDER, [name, '25000', 'tagged']));
    // Collections during the outage go to the queue, which keeps retrying.
    const flushes: Promise<unknown>[] = [];
    const collecting = setInterval(() => flushes.push(daemon?.request('daemon/flush', { timeoutMs: 100 }).catch(() => undefined) ?? Promise.resolve()), 150);
    for (const run of await Promise.all(runs)) expect(run.code, run.stderr).toBe(0);
    await sendEvents(500, 'outage');
    await new Promise((resolve) => setTimeout(resolve, 500));
    clearInterval(collecting);
    // A send a flush starts has what is left of the flush's 100 ms as its deadline: one still
    // open when the collector comes back could be taken by it after the daemon gave up on it,
    // and be sent again (OTLP delivers at least once). The collector comes back after them.
    await Promise.all(flushes);
    expect(receiver.sumOf('codex.test.calls')).toBe(0);
    receiver.setBehavior('ok');
    const current = receiver;
    await current.waitFor(() => current.sumOf('codex.test.calls') >= 100_000 && current.logRecords().length >= 500, 20_000, 'every count');
    await daemon.request('daemon/flush', {});
    for (const name of clients) expect(receiver.sumOf('codex.test.calls', { client: name })).toBe(25_000);
    expect(receiver.logRecords()).toHaveLength(500);
    expect(receiver.spans()).toHaveLength(500);
    expect((await daemon.status()).signals.metrics).toMatchObject({ buffered: 0, failed: 0, droppedTotal: 0 });
  });

  it('when the spool is full the oldest batches go, counted, and memory stays bounded', async () => {
    // A collection of one round is a batch of about 420 bytes: memory holds a handful, disk a few more.
    const { home, receiver } = await setUp('export_queue_max_bytes = 2000\nexport_spool_max_bytes = 4000\n');
    daemon = await startDaemonProcess(home);
    receiver.setBehavior('unavailable');
    // Distinct tags per run make every collection a batch of its own.
    for (let round = 0; round < 30; round++) {
      const run = await runNode(home, RECORDER, [`r${round}`, '300', 'tagged']);
      expect(run.code, run.stderr).toBe(0);
      await daemon.request('daemon/flush', { timeoutMs: 50 });
    }
    const status = await daemon.status();
    const queue = status.exporters.find((exporter) => exporter.signal === 'metrics')?.queue;
    expect(queue?.memoryBytes).toBeLessThanOrEqual(2000);
    expect(queue?.spooledBytes).toBeLessThanOrEqual(4000);
    expect(status.signals.metrics.spooled).toBeGreaterThan(0);
    expect(status.signals.metrics.dropped.spool_full).toBeGreaterThan(0);
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${daemon.child.pid}/status`, 'utf8'))?.[1]);
    expect(rssKiB).toBeLessThan(300 * 1024);
    // What survived arrives when the collector is back: the newest rounds, the oldest dropped.
    receiver.setBehavior('ok');
    await daemon.request('daemon/flush', {});
    const current = receiver;
    await current.waitFor(() => current.sumOf('codex.test.calls', { client: 'r29' }) === 300, 15_000, 'the newest round');
    expect(receiver.sumOf('codex.test.calls', { client: 'r0' })).toBe(0);
    const delivered = receiver.sumOf('codex.test.calls');
    const dropped = (await daemon.status()).signals.metrics.dropped.spool_full ?? 0;
    // Every record is accounted for: delivered, or dropped by the bound (in summed records).
    expect(delivered).toBeLessThan(30 * 300);
    expect(dropped).toBeGreaterThan(0);
  });

  it('after kill -9 under a burst the lanes kept up with, replays exactly the events not yet exported, each once', async () => {
    const { home, receiver } = await setUp();
    daemon = await startDaemonProcess(home);
    // Notifications: each lane exports its two full batches (512 events each) at once, mostly
    // before the journal's next write, which then leaves their lines out; the last 100 events wait
    // for the ten-minute export interval and are journaled.
    const total = 1124;
    peer = await sendToolResults('burst', total);
    const first = receiver;
    await first.waitFor(() => first.logRecords().length === 1024 && first.spans().length === 1024, 10_000, 'the full batches');
    await new Promise((resolve) => setTimeout(resolve, 600));
    peer.destroy();
    daemon.child.kill('SIGKILL');
    await daemon.exited;

    daemon = await startDaemonProcess(home);
    await daemon.request('daemon/flush', {});
    await first.waitFor(() => first.logRecords().length >= total && first.spans().length >= total, 10_000, 'the replayed events');
    const numbers = (items: readonly { attributes: Record<string, unknown> }[]) => items.map((item) => Number(item.attributes.n)).sort((a, b) => a - b);
    const all = Array.from({ length: total }, (_, index) => index);
    expect(numbers(receiver.logRecords())).toEqual(all);
    expect(numbers(receiver.spans())).toEqual(all);
    // The derived metrics, never exported before the kill, from the journal: once.
    expect(receiver.sumOf('codex.tool.call', { tool: 'shell' })).toBe(total);
  });

  it('behind a collector that does not answer, after kill -9 replays each event once, as the lanes made it', async () => {
    const { home, receiver } = await setUp();
    daemon = await startDaemonProcess(home);
    receiver.setBehavior('hang');
    // Each lane serialises two full batches (512 events each): the first hangs on the wire, the
    // second waits in memory; the last 100 events wait in the lanes for the export interval.
    const total = 1124;
    peer = await sendToolResults('held', total);
    await receiver.waitFor(() => receiver.hungCalls >= 2, 10_000, 'a hung export of each lane');
    // Past the lines' hold and a journal write.
    await new Promise((resolve) => setTimeout(resolve, 600));
    peer.destroy();
    daemon.child.kill('SIGKILL');
    await daemon.exited;

    receiver.setBehavior('ok');
    daemon = await startDaemonProcess(home);
    await daemon.request('daemon/flush', {});
    const current = receiver;
    await current.waitFor(() => current.logRecords().length >= total && current.spans().length >= total, 10_000, 'the replayed events');
    const numbers = (items: readonly { attributes: Record<string, unknown> }[]) => items.map((item) => Number(item.attributes.n)).sort((a, b) => a - b);
    const all = Array.from({ length: total }, (_, index) => index);
    expect(numbers(receiver.logRecords())).toEqual(all);
    expect(numbers(receiver.spans())).toEqual(all);
    // As the lanes made them the first time: the session's context, the event's name, its span's ids.
    for (const record of receiver.logRecords()) expect(record.attributes).toMatchObject({ model: 'gpt-5.1-codex', 'session.id': 'held', 'client.name': 'codex-exec', 'event.name': 'codex.tool_result', tool_name: 'shell' });
    for (const span of receiver.spans()) {
      expect(span.attributes).toMatchObject({ model: 'gpt-5.1-codex', 'session.id': 'held', tool_name: 'shell' });
      expect(span.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(span.name).toBe('codex.tool_result');
    }
    expect(new Set(receiver.spans().map((span) => span.spanId)).size).toBe(total);
    // The derived metrics, journaled apart, once.
    expect(receiver.sumOf('codex.tool.call', { tool: 'shell' })).toBe(total);
  });

  it('after kill -9 with a file exporter that cannot write, the next daemon writes each event once', async () => {
    home = createTestHome();
    const dir = join(home.dir, 'telemetry');
    // A file where the exporter's folder should be: every write fails until it is gone.
    writeFileSync(dir, 'in the way');
    home.writeConfig(`[codexd]\nexport_interval_ms = 600000\nexport_retry_initial_ms = 50\nexport_retry_max_ms = 200\n\n[codexd.file_exporter]\ndir = "${dir}"\n`);
    daemon = await startDaemonProcess(home);
    const total = 1124;
    peer = await sendToolResults('blocked', total);
    await expect.poll(async () => (await daemon?.status())?.signals.traces.accepted, { timeout: 10_000 }).toBe(total);
    await new Promise((resolve) => setTimeout(resolve, 600));
    peer.destroy();
    daemon.child.kill('SIGKILL');
    await daemon.exited;

    rmSync(dir);
    daemon = await startDaemonProcess(home);
    await daemon.request('daemon/flush', {});
    const written = (name: string, items: 'logRecords' | 'spans', scopes: 'scopeLogs' | 'scopeSpans', resources: 'resourceLogs' | 'resourceSpans') =>
      readFileSync(join(dir, name), 'utf8')
        .trim()
        .split('\n')
        .flatMap((line) => (JSON.parse(line) as Record<string, { [key: string]: { [key: string]: { attributes: { key: string; value: { intValue?: string; stringValue?: string } }[] }[] }[] }[]>)[resources] ?? [])
        .flatMap((resource) => resource[scopes] ?? [])
        .flatMap((scope) => scope[items] ?? []);
    const numbers = (records: { attributes: { key: string; value: { intValue?: string } }[] }[]) => records.map((record) => Number(record.attributes.find((attribute) => attribute.key === 'n')?.value.intValue)).sort((a, b) => a - b);
    const all = Array.from({ length: total }, (_, index) => index);
    expect(numbers(written('logs.jsonl', 'logRecords', 'scopeLogs', 'resourceLogs'))).toEqual(all);
    expect(numbers(written('traces.jsonl', 'spans', 'scopeSpans', 'resourceSpans'))).toEqual(all);
    for (const record of written('logs.jsonl', 'logRecords', 'scopeLogs', 'resourceLogs')) expect(record.attributes.find((attribute) => attribute.key === 'session.id')?.value.stringValue).toBe('blocked');
  });

  it('replays journals holding more events than a lane takes at once, every one of them, none refused', async () => {
    const { home, receiver } = await setUp();
    // Two daemons gone, each leaving 15,000 events unexported: 30,000 for lanes of 20,000.
    const perJournal = 15_000;
    for (const pid of ['999998', '999999']) {
      const dir = join(home.dir, 'state', 'codexd', 'journal', pid);
      mkdirSync(dir, { recursive: true });
      const { journal } = openAcceptingJournal({ dir, settled: () => 0, maxBytes: 1 << 30, onPressure: () => undefined, onError: (message) => expect.fail(message) });
      const first = pid === '999998' ? 0 : perJournal;
      for (let n = first; n < first + perJournal; n++) journal.append({ e: [{ name: 'codex.tool_result', timeMs: 1_733_400_000_000 + n, durationMs: 1, logAttributes: { n }, parent: null }, { log: true, span: true }] });
      journal.sync();
    }
    daemon = await startDaemonProcess(home);
    await daemon.request('daemon/flush', {});
    const { logs, traces } = (await daemon.status()).signals;
    expect(logs).toMatchObject({ received: 2 * perJournal, accepted: 2 * perJournal, droppedTotal: 0 });
    expect(traces).toMatchObject({ received: 2 * perJournal, accepted: 2 * perJournal, droppedTotal: 0 });
    const numbers = receiver.logRecords().map((record) => Number(record.attributes.n));
    expect(numbers).toEqual(Array.from({ length: 2 * perJournal }, (_, index) => index));
    expect(receiver.spans()).toHaveLength(2 * perJournal);
  });

  it('starts past a journal line it cannot take in again: the line is left out and logged, the rest replayed', async () => {
    const { home, receiver } = await setUp();
    const dir = join(home.dir, 'state', 'codexd', 'journal', '999999');
    mkdirSync(dir, { recursive: true });
    const { journal } = openAcceptingJournal({ dir, settled: () => 0, maxBytes: 1 << 30, onPressure: () => undefined, onError: (message) => expect.fail(message) });
    // Valid JSON, but not an event entry this version writes: it has no trace parent.
    journal.append({ e: [{ name: 'codex.tool_result', timeMs: 1, durationMs: 1, logAttributes: { n: 1 } }, { log: true, span: true }] });
    journal.append({ m: [{ name: 'codex.test.after', kind: 'counter', value: 3 }] });
    journal.sync();
    daemon = await startDaemonProcess(home);
    await daemon.request('daemon/flush', {});
    expect(receiver.sumOf('codex.test.after')).toBe(3);
    // Counted nowhere as taken in: the books balance.
    expect((await daemon.status()).signals.logs).toMatchObject({ received: 0, accepted: 0, droppedTotal: 0 });
    const log = daemon.stderr();
    expect(log).toContain('journal: a line could not be taken in again and was left out');
    expect(log).toMatch(/"unreadable":1\b/);
  });

  it('a journal whose records were all exported before a kill -9 is never replayed, by the next daemon or a later one', async () => {
    const { home, receiver } = await setUp();
    daemon = await startDaemonProcess(home);
    peer = await openRawPeer(home.socketPath);
    await peer.initialize('codex-cli');
    expect((await peer.request(1, 'metric/record', { records: [{ name: 'codex.test.once', kind: 'counter', value: 7 }] })).result).toEqual({ accepted: 1, rejected: [] });
    await daemon.request('daemon/flush', {});
    expect(receiver.sumOf('codex.test.once')).toBe(7);
    peer.destroy();
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    for (let round = 0; round < 2; round++) {
      daemon = await startDaemonProcess(home);
      await daemon.request('daemon/flush', {});
      await daemon.stop();
    }
    daemon = undefined;
    expect(receiver.sumOf('codex.test.once')).toBe(7);
  });

  it('the file exporter has a queue too: a write that fails is retried, not dropped, and lands once it can', async () => {
    home = createTestHome();
    receiver = await startOtlpReceiver();
    const dir = join(home.dir, 'telemetry');
    // A file where the exporter's folder should be: every write fails until it is gone.
    writeFileSync(dir, 'in the way');
    home.writeConfig(`[codexd]\nexport_interval_ms = 600000\nexport_retry_initial_ms = 50\nexport_retry_max_ms = 200\n\n[codexd.file_exporter]\ndir = "${dir}"\n`);
    daemon = await startDaemonProcess(home);
    const run = await runNode(home, RECORDER, ['blocked', '900', 'tagged']);
    expect(run.code, run.stderr).toBe(0);
    const flush = await daemon.request<{ complete: boolean }>('daemon/flush', { timeoutMs: 300 });
    expect(flush.complete).toBe(false);
    const failing = await daemon.status();
    expect(failing.exporters[0]).toMatchObject({ kind: 'file', state: 'failing' });
    expect(failing.signals.metrics).toMatchObject({ buffered: 3, failed: 0, droppedTotal: 0 });
    rmSync(dir);
    await expect.poll(async () => (await daemon?.status())?.signals.metrics.exported, { timeout: 10_000 }).toBe(3);
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
    const sum = lines
      .flatMap((line) => (JSON.parse(line) as { resourceMetrics: { scopeMetrics: { metrics: { name: string; sum?: { dataPoints: { asDouble?: number; asInt?: number }[] } }[] }[] }[] }).resourceMetrics)
      .flatMap((resource) => resource.scopeMetrics.flatMap((scope) => scope.metrics))
      .filter((metric) => metric.name === 'codex.test.calls')
      .flatMap((metric) => metric.sum?.dataPoints ?? [])
      .reduce((total, point) => total + Number(point.asDouble ?? point.asInt ?? 0), 0);
    expect(sum).toBe(900);
  });

  it('exports over OTLP/HTTP, protobuf and JSON, per signal beside gRPC, retrying a 503 after its Retry-After', async () => {
    home = createTestHome();
    receiver = await startOtlpReceiver();
    const http = await startOtlpHttpReceiver();
    try {
      home.writeConfig(
        [
          '[otel]',
          `metrics_exporter = { otlp-http = { endpoint = "${http.endpoint}", protocol = "binary", headers = { "x-api-key" = "k-1" } } }`,
          `exporter = { otlp-http = { endpoint = "${http.endpoint}", protocol = "json" } }`,
          `trace_exporter = { otlp-grpc = { endpoint = "${receiver.endpoint}" } }`,
          '[codexd]',
          'export_interval_ms = 600000',
          'export_retry_initial_ms = 50',
          '',
        ].join('\n'),
      );
      daemon = await startDaemonProcess(home);
      http.setStatus(503, { 'retry-after': '1' });
      const run = await runNode(home, RECORDER, ['over-http', '600', 'tagged']);
      expect(run.code, run.stderr).toBe(0);
      await sendEvents(3, 'http-1');
      await daemon.request('daemon/flush', { timeoutMs: 300 });
      expect(http.refused).toBeGreaterThan(0);
      const waiting = await daemon.status();
      expect(waiting.exporters.find((exporter) => exporter.signal === 'metrics')).toMatchObject({ kind: 'otlp-http', state: 'failing', endpoint: http.endpoint });
      http.setStatus(200);
      await expect.poll(() => sumOf(http.exports(), 'codex.test.calls'), { timeout: 10_000 }).toBe(600);
      const metrics = http.exports().filter((entry) => entry.signal === 'metrics');
      // Retry-After: 1 was honoured: the metrics were not sent again sooner (the backoff alone would have taken 25 to 75 ms).
      const firstRefusal = http.refusedAt[0] as number;
      expect((metrics[0]?.at ?? 0) - firstRefusal).toBeGreaterThanOrEqual(900);
      expect(metrics.every((entry) => entry.contentType === 'application/x-protobuf' && entry.headers['x-api-key'] === 'k-1')).toBe(true);
      await expect.poll(() => http.exports().filter((entry) => entry.signal === 'logs').length, { timeout: 10_000 }).toBeGreaterThan(0);
      const logs = http.exports().filter((entry) => entry.signal === 'logs');
      expect(logs.every((entry) => entry.contentType === 'application/json')).toBe(true);
      expect(JSON.stringify(logs.map((entry) => entry.body))).toContain('codex.sse_event');
      const current = receiver;
      await current.waitFor(() => current.spans().length === 3, 10_000, 'three spans over gRPC');
      expect(sumOf(http.exports(), 'codex.test.calls')).toBe(600);
    } finally {
      await daemon?.stop();
      await http.close();
    }
  });

  it('exports over TLS with a custom CA and a client certificate, gRPC and OTLP/HTTP; a wrong CA fails with a clear error', async () => {
    const pki = await makeTestPki();
    const wrong = await makeTestPki('some other CA');
    home = createTestHome();
    receiver = await startOtlpReceiver({ tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert } });
    const http = await startOtlpHttpReceiver({ tls: { cert: pki.server.cert, key: pki.server.key, clientCa: pki.ca.cert } });
    const write = (name: string, text: string): string => {
      const path = join((home as TestHome).dir, name);
      writeFileSync(path, text, { mode: 0o600 });
      return path;
    };
    const files = { ca: write('ca.pem', pki.ca.cert), wrongCa: write('wrong-ca.pem', wrong.ca.cert), cert: write('client.pem', pki.client.cert), key: write('client-key.pem', pki.client.key) };
    const tls = (ca: string): string => `tls = { ca-certificate = "${ca}", client-certificate = "${files.cert}", client-private-key = "${files.key}" }`;
    try {
      home.writeConfig(
        [
          '[otel]',
          `metrics_exporter = { otlp-grpc = { endpoint = "${receiver.endpoint}", ${tls(files.ca)} } }`,
          `exporter = { otlp-http = { endpoint = "${http.endpoint}", protocol = "json", ${tls(files.ca)} } }`,
          `trace_exporter = { otlp-grpc = { endpoint = "${receiver.endpoint}", ${tls(files.wrongCa)} } }`,
          '[codexd]',
          'export_interval_ms = 600000',
          'export_retry_initial_ms = 50',
          '',
        ].join('\n'),
      );
      daemon = await startDaemonProcess(home);
      const run = await runNode(home, RECORDER, ['over-tls', '300', 'tagged']);
      expect(run.code, run.stderr).toBe(0);
      await sendEvents(2, 'tls-1');
      await daemon.request('daemon/flush', { timeoutMs: 2000 });
      const current = receiver;
      await current.waitFor(() => current.sumOf('codex.test.calls') === 300, 10_000, 'metrics over gRPC with TLS');
      await expect.poll(() => http.exports().filter((entry) => entry.signal === 'logs').length, { timeout: 10_000 }).toBeGreaterThan(0);
      // The trace exporter trusts another CA: the collector's certificate is refused, and status says why.
      const status = await daemon.status();
      const traces = status.exporters.find((exporter) => exporter.signal === 'traces');
      expect(traces?.state).toBe('failing');
      expect(traces?.lastError?.message).toMatch(/certificate/);
      expect(receiver.spans()).toHaveLength(0);
      // Half a pair is refused at start, naming the table.
      await daemon.stop();
      daemon = undefined;
      home.writeConfig(`[otel]\nmetrics_exporter = { otlp-grpc = { endpoint = "${receiver.endpoint}", tls = { client-certificate = "${files.cert}" } } }\n`);
      const refused = await runCli(home, ['run']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('otel.metrics_exporter.otlp-grpc.tls: expected client-certificate and client-private-key together');
    } finally {
      await http.close();
    }
  });

  it('never writes a configured secret to the daemon log, status or the status command, through failures and refusals', async () => {
    home = createTestHome();
    receiver = await startOtlpReceiver();
    const secrets = ['Bearer grpc-secret-1', 'http-secret-2', 'trace-secret-3', 'feedback-secret-4'];
    home.writeConfig(
      [
        '[otel]',
        `metrics_exporter = { otlp-grpc = { endpoint = "${receiver.endpoint}", headers = { authorization = "${secrets[0]}" } } }`,
        // A collector that is not there: its failures get logged.
        `exporter = { otlp-http = { endpoint = "http://127.0.0.1:9", headers = { "x-api-key" = "${secrets[1]}" } } }`,
        // (statsig would send to Statsig itself: its key is checked by config check's test instead.)
        `trace_exporter = { otlp-grpc = { endpoint = "${receiver.endpoint}", headers = { "x-trace-key" = "${secrets[2]}" } } }`,
        '[feedback]',
        `endpoint = "http://127.0.0.1:9/feedback"`,
        `headers = { authorization = "${secrets[3]}" }`,
        '[codexd]',
        'export_interval_ms = 100',
        'export_retry_initial_ms = 50',
        '',
      ].join('\n'),
    );
    daemon = await startDaemonProcess(home);
    receiver.setBehavior('unavailable');
    await sendEvents(5, 'secret-1');
    const run = await runNode(home, RECORDER, ['secrets', '30', 'tagged']);
    expect(run.code, run.stderr).toBe(0);
    peer = await openRawPeer(home.socketPath);
    await peer.initialize('codex-tui');
    expect((await peer.request(1, 'feedback/submit', { category: 'bug', includeLogs: false })).result).toMatchObject({ status: 'queued' });
    await daemon.request('daemon/flush', { timeoutMs: 500 });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const status = JSON.stringify(await daemon.status());
    const table = (await runCli(home, ['status'])).stdout;
    const stopped = daemon;
    await stopped.stop();
    daemon = undefined;
    // The test daemon logs to standard error (--log-stderr): the same pino lines as the log file.
    const log = stopped.stderr();
    // The log did record the failures it should.
    expect(log).toMatch(/export failed|feedback upload failed/);
    for (const secret of secrets) {
      expect(log).not.toContain(secret);
      expect(status).not.toContain(secret);
      expect(table).not.toContain(secret);
    }
  });
});
