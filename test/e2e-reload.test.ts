/**
 * Reloading the configuration (`SIGHUP`, `codexd reload`) while clients record: exporters
 * switch without losing or doubling what was accepted, buffered or on the wire, and a bad file
 * changes nothing. Delta temporality makes a loss or a duplicate visible in every sum.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import type { DaemonStatus } from '../protocol/index.js';
import { CLI, createTestHome, type DaemonProcess, grpcConfig, ROOT, runCli, runNode, startDaemonProcess, type TestHome, waitForSocket } from './support/daemon.js';
import { type OtlpReceiver, startOtlpReceiver } from './support/otlp-receiver.js';
import { openRawPeer, type RawPeer } from './support/raw-client.js';

const RECORDER = join(ROOT, 'test/fixtures/record-metrics.mjs');
/** Fast retries; exports on a short interval, so batches are on their way while the reload happens. */
const CODEXD = 'export_retry_initial_ms = 50\nexport_retry_max_ms = 200';

async function waitForStatus(daemon: DaemonProcess, predicate: (status: DaemonStatus.Result) => boolean, what: string): Promise<DaemonStatus.Result> {
  const until = Date.now() + 10_000;
  for (;;) {
    const status = await daemon.status();
    if (predicate(status)) return status;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(status.config)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('reloading the configuration', () => {
  let home: TestHome | undefined;
  let receivers: OtlpReceiver[] = [];
  let daemon: DaemonProcess | undefined;
  let peer: RawPeer | undefined;

  afterEach(async () => {
    peer?.destroy();
    await daemon?.stop();
    await Promise.all(receivers.map((receiver) => receiver.close()));
    home?.remove();
    home = daemon = peer = undefined;
    receivers = [];
  });

  async function twoReceivers(): Promise<[OtlpReceiver, OtlpReceiver]> {
    receivers = [await startOtlpReceiver(), await startOtlpReceiver()];
    return receivers as [OtlpReceiver, OtlpReceiver];
  }

  it('moves metrics to a new endpoint while clients record: what waited for the old one goes to the new one, nothing lost or doubled', async () => {
    const [first, second] = await twoReceivers();
    home = createTestHome();
    home.writeConfig(grpcConfig(first.endpoint, 50, { codexd: CODEXD }));
    daemon = await startDaemonProcess(home);

    // 1. The first collector takes what is recorded while it is up.
    expect((await runNode(home, RECORDER, ['before', '3000'])).code).toBe(0);
    await daemon.request('daemon/flush', {});
    expect(first.sumOf('codex.test.calls')).toBe(3000);

    // 2. It goes down: batches wait in the queue, retried.
    first.setBehavior('unavailable');
    expect((await runNode(home, RECORDER, ['waiting', '2000'])).code).toBe(0);
    await waitForStatus(daemon, (status) => (status.exporters[0]?.queue?.memoryBatches ?? 0) > 0 && (status.exporters[0]?.queue?.failures ?? 0) > 0, 'a failing queue');

    // 3. Four clients record while the config moves metrics to the second collector.
    const recording = Promise.all(['during-a', 'during-b', 'during-c', 'during-d'].map((name) => runNode(home as TestHome, RECORDER, [name, '20000'])));
    await new Promise((resolve) => setTimeout(resolve, 100));
    home.writeConfig(grpcConfig(second.endpoint, 50, { codexd: CODEXD }));
    const reload = await runCli(home, ['reload']);
    expect(reload.code, reload.stderr).toBe(0);
    expect(reload.stdout).toBe(`reloaded ${join(home.codexHome, 'config.toml')}: applied otel.metrics_exporter, otel.exporter, otel.trace_exporter\n`);
    for (const run of await recording) expect(run.code, run.stderr).toBe(0);
    expect((await runNode(home, RECORDER, ['after', '1000'])).code).toBe(0);
    const flushed = await daemon.request<{ complete: boolean }>('daemon/flush', {});
    expect(flushed.complete).toBe(true);

    // Every record arrived once: the backlog and everything after at the second collector.
    const total = (client: string): number => first.sumOf('codex.test.calls', { client }) + second.sumOf('codex.test.calls', { client });
    expect(total('before')).toBe(3000);
    expect(total('waiting')).toBe(2000);
    for (const name of ['during-a', 'during-b', 'during-c', 'during-d']) expect(total(name)).toBe(20_000);
    expect(total('after')).toBe(1000);
    expect(first.sumOf('codex.test.calls')).toBe(3000);
    expect(second.sumOf('codex.test.calls', { client: 'waiting' })).toBe(2000);
    expect(second.sumOf('codex.test.calls', { client: 'after' })).toBe(1000);
    const status = await daemon.status();
    // Counts are of measurements, which the clients sum before sending: every one is exported.
    expect(status.signals.metrics).toMatchObject({ exported: status.signals.metrics.received, buffered: 0, failed: 0, droppedTotal: 0 });
    expect(status.exporters[0]).toMatchObject({ signal: 'metrics', kind: 'otlp-grpc', endpoint: second.endpoint, queue: { memoryBatches: 0, failures: 0 } });
    expect(status.config).toMatchObject({ reloads: 1, lastReload: { ok: true, error: null, trigger: 'daemon/reload from codexd-cli' }, needsRestart: [] });
  });

  it('refuses a bad file on SIGHUP and on codexd reload: the old exporters keep running, the error is in status and the log', async () => {
    const [first] = await twoReceivers();
    home = createTestHome();
    const good = grpcConfig(first.endpoint, 50, { codexd: CODEXD });
    home.writeConfig(good);
    daemon = await startDaemonProcess(home);
    const file = join(home.codexHome, 'config.toml');

    const bad: [string, string][] = [
      [good.replace('[codexd]', '[codexd]\nexport_intervall_ms = 5'), `${file}: codexd.export_intervall_ms: expected one of`],
      [good.replace('[otel]', '[otel]\nlog_user_prompt = "yes"'), `${file}: otel.log_user_prompt: expected true or false`],
      [good.replace(/exporter = \{ otlp-grpc = \{ endpoint = "[^"]*" \} \}/, 'exporter = { otlp-http = { endpoint = "http://[::1" } }'), `${file}: otel.metrics_exporter.otlp-http.endpoint: expected a URL starting with http:// or https://`],
      [good.replace('[otel]', '[otel.tracestate.Congo]\nalpha = "one"\n[otel]'), `${file}: otel.tracestate.Congo: expected a W3C tracestate key`],
    ];
    for (const [toml, message] of bad) {
      home.writeConfig(toml);
      const refused = await runCli(home, ['reload']);
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain(`codexd: reload refused, the daemon keeps its settings: ${message}`);
    }
    // SIGHUP does the same, and says so where an operator looks.
    home.writeConfig(`${good}\n[otel]\n`);
    const before = (await daemon.status()).config.lastReload?.at;
    daemon.child.kill('SIGHUP');
    const refused = await waitForStatus(daemon, (status) => status.config.lastReload?.trigger === 'SIGHUP' && status.config.lastReload.at !== before, 'the SIGHUP reload');
    expect(refused.config).toMatchObject({ reloads: 0, lastReload: { ok: false, trigger: 'SIGHUP' } });
    expect(refused.config.lastReload?.error).toMatch(/^.*config\.toml: not valid TOML/);
    expect(daemon.stderr()).toContain('reload refused; the settings in force stay');
    const table = await runCli(home, ['status']);
    expect(table.stdout).toMatch(/last reload: refused \(SIGHUP\) .*not valid TOML/);

    // The old exporter still takes and sends.
    expect((await runNode(home, RECORDER, ['still', '500'])).code).toBe(0);
    await daemon.request('daemon/flush', {});
    expect(first.sumOf('codex.test.calls', { client: 'still' })).toBe(500);

    // A good file again: taken, and a setting read only at start is named as needing a restart.
    home.writeConfig(grpcConfig(first.endpoint, 75, { codexd: CODEXD }));
    const fixed = await runCli(home, ['reload']);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.stdout).toContain('nothing changed');
    expect(fixed.stdout).toContain('takes effect at the next start (codexd restart): codexd.export_interval_ms');
    expect((await daemon.status()).config).toMatchObject({ reloads: 1, lastReload: { ok: true }, needsRestart: ['codexd.export_interval_ms'] });
  });

  it('shows batches left in the spool of another kind of exporter, and sends them once a reload brings that kind back', async () => {
    const [collector] = await twoReceivers();
    home = createTestHome();
    const grpc = `{ otlp-grpc = { endpoint = "${collector.endpoint}" } }`;
    const withMetrics = (exporter: string): string => `[otel]\nmetrics_exporter = ${exporter}\nexporter = "none"\n[codexd]\nexport_interval_ms = 600000\n${CODEXD}\n`;
    home.writeConfig(withMetrics(grpc));
    collector.setBehavior('unavailable');
    daemon = await startDaemonProcess(home);
    expect((await runNode(home, RECORDER, ['stranded', '700'])).code).toBe(0);
    await daemon.request('daemon/flush', { timeoutMs: 200 });
    // The stop spills what the collector did not take to the protobuf spool.
    await daemon.stop();

    home.writeConfig(withMetrics('"file"'));
    daemon = await startDaemonProcess(home);
    const waiting = (await daemon.status()).exporters[0];
    expect(waiting).toMatchObject({ kind: 'file', otherSpools: [{ kind: 'otlp-protobuf', segments: 1, bytes: expect.any(Number) }] });
    expect((await runCli(home, ['status'])).stdout).toMatch(/spool metrics\/otlp-protobuf: 1 segments \([\d.]+ (B|KiB)\) wait for a metrics exporter of that kind/);
    expect(daemon.stderr()).toContain('batches wait in the spool of another kind of exporter');

    collector.setBehavior('ok');
    home.writeConfig(withMetrics(grpc));
    expect((await runCli(home, ['reload'])).code).toBe(0);
    await collector.waitFor(() => collector.sumOf('codex.test.calls', { client: 'stranded' }) === 700, 10_000, 'the stranded batch');
    const after = (await daemon.status()).exporters[0];
    expect(after?.otherSpools).toBeUndefined();
    expect(after?.queue?.replayed.exported).toBeGreaterThan(0);
  });

  it('changes the log level of every part of the daemon at once', async () => {
    home = createTestHome();
    home.writeConfig('[codexd]\nlog_level = "warn"\n');
    daemon = await startDaemonProcess(home);
    expect((await runCli(home, ['status'])).code).toBe(0);
    expect(daemon.stderr()).not.toContain('client initialized');
    home.writeConfig('[codexd]\nlog_level = "debug"\n');
    const reload = await runCli(home, ['reload']);
    expect(reload.stdout).toContain('applied codexd.log_level');
    expect((await runCli(home, ['status'])).code).toBe(0);
    // A connection's logger, made after the change, and the daemon's own, made at start.
    await expect.poll(() => daemon?.stderr() ?? '', { timeout: 5000 }).toContain('"msg":"connection closed"');
    expect(daemon.stderr()).toContain('"msg":"client initialized"');
    expect(daemon.stderr()).toContain('"msg":"configuration reloaded"');
  });

  it('keeps a SIGHUP sent while the daemon starts, and reloads once it is up', async () => {
    const own = createTestHome();
    home = own;
    own.writeConfig('[codexd]\nexport_interval_ms = 1000\n');
    const child = spawn(process.execPath, [CLI, 'run', '--log-stderr'], { env: own.env, stdio: ['ignore', 'ignore', 'pipe'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      // Once the process catches SIGHUP (bit 1 of SigCgt) and before its socket exists.
      const catchesHangUp = (): boolean => {
        const line = readFileSync(`/proc/${child.pid}/status`, 'utf8').match(/^SigCgt:\s*([0-9a-f]+)$/m)?.[1] ?? '0';
        return (BigInt(`0x${line}`) & 1n) === 1n;
      };
      while (!catchesHangUp()) await new Promise((resolve) => setTimeout(resolve, 1));
      const early = !existsSync(own.socketPath);
      child.kill('SIGHUP');
      await waitForSocket(own.socketPath);
      const status = JSON.parse((await runCli(own, ['status', '--json'])).stdout) as DaemonStatus.Result;
      expect(status.pid).toBe(child.pid);
      const reloaded = async (): Promise<DaemonStatus.Result['config']> => (JSON.parse((await runCli(own, ['status', '--json'])).stdout) as DaemonStatus.Result).config;
      await expect.poll(reloaded, { timeout: 5000 }).toMatchObject({ reloads: 1, lastReload: { ok: true, trigger: 'SIGHUP' } });
      // The case this test is for: the signal came before the daemon was up.
      expect(early).toBe(true);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

  it('switches each signal on its own: logs from the file to a collector, metrics off, and what each held goes where it was accepted for', async () => {
    const [collector] = await twoReceivers();
    home = createTestHome();
    const dir = join(home.dir, 'telemetry');
    const fileExporter = `[codexd.file_exporter]\ndir = "${dir}"`;
    const grpc = `{ otlp-grpc = { endpoint = "${collector.endpoint}" } }`;
    home.writeConfig(`[otel]\nmetrics_exporter = ${grpc}\nexporter = "file"\ntrace_exporter = "none"\n[codexd]\nexport_interval_ms = 50\n${CODEXD}\n${fileExporter}\n`);
    daemon = await startDaemonProcess(home);
    peer = await openRawPeer(home.socketPath);
    await peer.initialize('codex-tui');
    await peer.request(1, 'session/start', { sessionId: 'r-1' });
    const send = async (id: number, from: number, count: number): Promise<void> => {
      const reply = await (peer as RawPeer).request(id, 'session/event', { events: Array.from({ length: count }, (_, index) => ({ sessionId: 'r-1', name: 'codex.sse_event', traceSafe: { n: from + index } })) });
      expect(reply.result).toEqual({ accepted: count, rejected: [] });
      await (peer as RawPeer).request(id + 1000, 'metric/record', { records: [{ name: 'codex.reload.calls', kind: 'counter', value: count }] });
    };
    await send(2, 0, 30);

    // Logs to the collector, traces on, metrics off: one reload, three switches.
    home.writeConfig(`[otel]\nexporter = ${grpc}\n[analytics]\nenabled = false\n[codexd]\nexport_interval_ms = 50\n${CODEXD}\n${fileExporter}\n`);
    daemon.child.kill('SIGHUP');
    await waitForStatus(daemon, (status) => status.config.reloads === 1, 'the reload');
    await send(3, 30, 20);
    await daemon.request('daemon/flush', {});
    await collector.waitFor(() => collector.logRecords().length === 20 && collector.spans().length === 20, 10_000, 'the events sent after the reload');

    // Before the reload: logs in the file, metrics at the collector, no spans.
    const fileLines = readFileSync(join(dir, 'logs.jsonl'), 'utf8').trim().split('\n');
    const fileRecords = fileLines.flatMap((line) => (JSON.parse(line) as { resourceLogs: { scopeLogs: { logRecords: unknown[] }[] }[] }).resourceLogs.flatMap((resource) => resource.scopeLogs.flatMap((scope) => scope.logRecords)));
    expect(fileRecords).toHaveLength(30);
    expect(collector.sumOf('codex.reload.calls')).toBe(30);
    // After: logs and spans at the collector, metrics counted as turned off.
    expect(collector.logRecords().map((log) => Number(log.attributes.n))).toEqual(Array.from({ length: 20 }, (_, index) => 30 + index));
    const status = await daemon.status();
    expect(status.signals.logs).toMatchObject({ accepted: 50, exported: 50, buffered: 0 });
    expect(status.signals.traces).toMatchObject({ accepted: 50, exported: 20, dropped: { exporter_disabled: 30 } });
    // One measurement per send: the one before the reload exported, the one after counted as off.
    expect(status.signals.metrics).toMatchObject({ exported: 1, dropped: { exporter_disabled: 1 } });
    expect(status.exporters.map((exporter) => [exporter.signal, exporter.kind, exporter.state])).toEqual([
      ['metrics', 'none', 'disabled'],
      ['logs', 'otlp-grpc', 'ok'],
      ['traces', 'otlp-grpc', 'ok'],
    ]);
  });
});
