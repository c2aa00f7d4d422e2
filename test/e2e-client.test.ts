/**
 * The thin client's promises to its host, against a real daemon process: it never throws or
 * blocks, it is bounded and counts what it drops (and tells the daemon), it survives a daemon
 * restart, and it never keeps its host alive.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

import { beforeEach, describe, expect, it } from 'vitest';

import { createClient } from '../client/index.js';
import { type DaemonProcess, ROOT, runProcess, type TestHome } from './support/daemon.js';
import { useHarness } from './support/harness.js';
import type { OtlpReceiver } from './support/otlp-receiver.js';

function exitTime(home: TestHome, source: string): Promise<{ code: number | null; ms: number; stderr: string }> {
  const started = Date.now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], { env: home.env, cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, ms: Date.now() - started, stderr })));
}

// What a host imports: `codexd/client`, the single-file bundle.
const CLIENT_URL = new URL('../dist/client/codexd-client.js', import.meta.url).href;

describe('thin client', () => {
  const harness = useHarness();
  let home: TestHome;
  let receiver: OtlpReceiver;
  let daemon: DaemonProcess | undefined;

  beforeEach(async () => {
    ({ home, receiver } = await harness.homeWithReceiver());
  });

  it('with no daemon: never throws, stays bounded, counts drops, and close() returns within its timeout', async () => {
    const errors: string[] = [];
    const client = createClient({
      clientInfo: { name: 'orphan', version: '1' },
      socketPath: home.socketPath,
      maxBufferedRecords: 1000,
      closeTimeoutMs: 300,
      spawn: false,
      onError: (message) => errors.push(message),
    });
    const started = performance.now();
    for (let i = 0; i < 5000; i++) client.histogram('codex.test.latency_ms', i);
    client.counter('bad name', 1);
    client.counter('codex.test.calls', -1);
    client.gauge('codex.test.depth', Number.NaN);
    // A negative observation, even of a histogram already buffered, is refused as the daemon would.
    client.histogram('codex.test.latency_ms', -3);
    client.counter('codex.test.calls', 1, { tool: 'has space' });
    expect(performance.now() - started).toBeLessThan(200);
    expect(client.stats()).toMatchObject({ connected: false, buffered: 1000, dropped: { client_buffer_full: 4000, invalid_name: 1, negative_counter: 1, invalid_value: 2, invalid_tag_value: 1 } });

    const closing = performance.now();
    await client.close();
    expect(performance.now() - closing).toBeLessThan(1000);
    // Undelivered at close, the buffer is handed over as a file the daemon will ingest.
    expect(client.stats()).toMatchObject({ buffered: 0, handedOff: 1000, dropped: { client_buffer_full: 4000 } });
    expect(readdirSync(join(home.dir, 'run', 'handoff')).filter((name) => name.endsWith('.json'))).toHaveLength(1);
    // Each kind of problem is reported once, not per record.
    expect(errors.filter((message) => message.includes('buffer full'))).toHaveLength(1);
    expect(errors.some((message) => message.includes(`cannot reach the daemon at ${home.socketPath}`))).toBe(true);
    expect(errors.some((message) => message.includes('"bad name"'))).toBe(true);
  });

  it("reports its drops to the daemon, which counts them in status", async () => {
    daemon = await harness.daemon();
    const client = createClient({ clientInfo: { name: 'small', version: '1' }, socketPath: home.socketPath, maxBufferedRecords: 100, spawn: false });
    await client.flush();
    for (let i = 0; i < 1000; i++) client.histogram('codex.test.latency_ms', i);
    await client.flush();
    client.counter('codex..ok', 1);
    client.counter('9bad', 1);
    client.counter('codex.test.calls', 1);
    await client.close();
    await daemon.request('daemon/flush', {});
    const status = await daemon.status();
    expect(status.signals.metrics.dropped).toEqual({ client_buffer_full: 900, client_invalid_name: 1 });
    expect(status.signals.metrics.accepted).toBe(102);
    expect(receiver.histogramTotals('codex.test.latency_ms').count).toBe(100);
  });

  it('flush() resolves as soon as the batch is written, round after round', async () => {
    daemon = await harness.daemon();
    const client = createClient({ clientInfo: { name: 'flusher', version: '1' }, socketPath: home.socketPath, spawn: false });
    client.counter('codex.test.calls', 1);
    await client.flush();
    expect(client.stats().connected).toBe(true);
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 100; i++) client.histogram('codex.test.latency_ms', i, { round: String(round) });
      const started = performance.now();
      await client.flush();
      // A write completes on a later tick; flush must wait for it, not spin until its timeout.
      expect(performance.now() - started).toBeLessThan(250);
      expect(client.stats().buffered).toBe(0);
    }
    await client.close();
    await daemon.request('daemon/flush', {});
    expect(receiver.histogramTotals('codex.test.latency_ms').count).toBe(2000);
  });

  it('many clients in one host share one exit listener, removed when the last closes', async () => {
    const before = process.listenerCount('exit');
    const clients = Array.from({ length: 20 }, (_, index) =>
      createClient({ clientInfo: { name: `many-${index}`, version: '1' }, socketPath: home.socketPath, spawn: false, closeTimeoutMs: 50 }),
    );
    expect(process.listenerCount('exit')).toBe(before + 1);
    await Promise.all(clients.map((client) => client.close()));
    expect(process.listenerCount('exit')).toBe(before);
  });

  it('a timer records once, however often it is stopped', async () => {
    daemon = await harness.daemon();
    const client = createClient({ clientInfo: { name: 'timer', version: '1' }, socketPath: home.socketPath, spawn: false });
    const timer = client.startTimer('codex.test.step_ms', { step: 'build' });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const elapsed = timer.stop({ status: 'ok' });
    expect(elapsed).toBeGreaterThanOrEqual(19);
    expect(timer.stop()).toBeUndefined();
    await client.close();
    await daemon.request('daemon/flush', {});
    const totals = receiver.histogramTotals('codex.test.step_ms', { step: 'build', status: 'ok' });
    expect(totals.count).toBe(1);
    expect(totals.sum).toBeCloseTo(elapsed as number, 6);
  });

  it('reconnects after the daemon restarts, and later records arrive', async () => {
    daemon = await harness.daemon();
    const client = createClient({ clientInfo: { name: 'long-lived', version: '1' }, socketPath: home.socketPath, spawn: false });
    client.counter('codex.test.calls', 5, { phase: 'before' });
    await client.flush();
    await daemon.stop();
    expect(receiver.sumOf('codex.test.calls', { phase: 'before' })).toBe(5);

    client.counter('codex.test.calls', 7, { phase: 'between' });
    daemon = await harness.daemon();
    client.counter('codex.test.calls', 11, { phase: 'after' });
    await expect.poll(() => client.stats().connected, { timeout: 10_000 }).toBe(true);
    await client.close();
    await daemon.request('daemon/flush', {});
    expect(receiver.sumOf('codex.test.calls', { phase: 'between' })).toBe(7);
    expect(receiver.sumOf('codex.test.calls', { phase: 'after' })).toBe(11);
  });

  it('never keeps its host alive: a host that records and returns exits at once, daemon or not', async () => {
    const host = `import { createClient } from ${JSON.stringify(CLIENT_URL)};
      const client = createClient({ clientInfo: { name: 'idle-host', version: '1' } });
      client.counter('codex.test.calls', 1);`;
    const without = await exitTime(home, host);
    expect(without.code, without.stderr).toBe(0);
    expect(without.ms).toBeLessThan(1500);

    daemon = await harness.daemon();
    const connected = `import { createClient } from ${JSON.stringify(CLIENT_URL)};
      const client = createClient({ clientInfo: { name: 'idle-host', version: '1' } });
      await client.flush();
      client.counter('codex.test.calls', 1);
      // Returns without close(): the open, idle socket must not hold the process.`;
    const withDaemon = await exitTime(home, connected);
    expect(withDaemon.code, withDaemon.stderr).toBe(0);
    expect(withDaemon.ms).toBeLessThan(1500);
  });

  it('closed in the turn it was made, with the daemon up, hands everything over as one file the daemon takes at once; an ended session goes over the socket', async () => {
    daemon = await harness.daemon();
    const host = (name: string, end: boolean): string => `import { createClient } from ${JSON.stringify(CLIENT_URL)};
      const client = createClient({ clientInfo: { name: ${JSON.stringify(name)}, version: '1' } });
      const session = client.session({ sessionId: ${JSON.stringify(`${name}-session`)}, attributes: { model: 'gpt-5.1-codex' } });
      client.counter('codex.test.calls', 3, { client: ${JSON.stringify(name)} });
      session.event('codex.tool_result', { traceSafe: { tool_name: 'shell', success: true, duration_ms: 12 }, durationMs: 12 });
      ${end ? 'session.end();' : ''}
      await client.close();
      process.stdout.write(JSON.stringify(client.stats()));`;
    const before = (await daemon.status()).handoff;
    const started = Date.now();
    const filed = await runProcess(['--input-type=module', '-e', host('filed', false)], home.env, 20_000);
    expect(filed.code, filed.stderr).toBe(0);
    expect(JSON.parse(filed.stdout)).toMatchObject({ connected: false, sent: 0, handedOff: 1, dropped: {}, events: { sent: 0, handedOff: 1, dropped: {} } });
    // The daemon's folder watch takes the file as it lands: well within its one-second rescan.
    await expect.poll(async () => (await daemon?.status())?.handoff.filesIngested, { timeout: 5000, interval: 20 }).toBe(before.filesIngested + 1);
    expect(Date.now() - started).toBeLessThan(5000);
    // A session's end needs the connection: the client writes everything to the socket.
    const ended = await runProcess(['--input-type=module', '-e', host('ended', true)], home.env, 20_000);
    expect(ended.code, ended.stderr).toBe(0);
    expect(JSON.parse(ended.stdout)).toMatchObject({ sent: 1, handedOff: 0, dropped: {}, events: { sent: 1, handedOff: 0 } });
    await daemon.request('daemon/flush', {});
    const after = await daemon.status();
    expect(after.handoff).toMatchObject({ filesIngested: before.filesIngested + 1, filesRejected: before.filesRejected, recordsIngested: before.recordsIngested + 1, eventsIngested: before.eventsIngested + 1 });
    // Both arrive alike: the counter under its host's resource, the event with its session's context.
    await receiver.waitFor(() => receiver.sumOf('codex.test.calls') >= 6, 10_000, 'both counters');
    for (const name of ['filed', 'ended']) {
      expect(receiver.sumOf('codex.test.calls', { client: name })).toBe(3);
      const log = receiver.logRecords().find((record) => record.attributes['session.id'] === `${name}-session` && record.attributes['event.name'] === 'codex.tool_result');
      expect(log?.attributes, name).toMatchObject({ model: 'gpt-5.1-codex', tool_name: 'shell', 'client.name': name });
      expect(log?.resource['service.name'], name).toBe(name);
    }
  });

  it('a short CLI that records and closes loads no Node module that a bare socket client does not, and hands over without node:net', async () => {
    daemon = await harness.daemon();
    // Node's own modules a host process loads, after the entry point's: what the client costs it.
    const loaded = (body: string) => `const before = new Set(process.moduleLoadList);
      ${body}
      // Read before process.stdout, whose pipe brings node:net of its own.
      const added = process.moduleLoadList.filter((name) => !before.has(name));
      process.stdout.write(JSON.stringify(added));`;
    const run = async (source: string): Promise<string[]> => {
      const result = await runProcess(['--input-type=module', '-e', source], home.env, 20_000);
      expect(result.code, result.stderr).toBe(0);
      return JSON.parse(result.stdout) as string[];
    };
    const floor = await run(
      loaded(`const socket = process.getBuiltinModule('node:net').connect(process.env.CODEXD_SOCKET);
      await new Promise((resolve) => socket.on('connect', () => socket.end('x', resolve)));
      socket.destroy();`),
    );
    const cli = (flush: boolean): string =>
      loaded(`const { createClient } = await import(${JSON.stringify(CLIENT_URL)});
      const client = createClient({ clientInfo: { name: 'short-cli', version: '1' } });
      client.counter('codex.tool.call', 1, { tool: 'shell' });
      client.histogram('codex.tool.call.duration_ms', 12, { tool: 'shell' });
      ${flush ? 'await client.flush();' : ''}
      await client.close();
      const { sent, handedOff } = client.stats();
      if (${flush ? 'sent !== 2 || handedOff !== 0' : 'sent !== 0 || handedOff !== 2'}) throw new Error(JSON.stringify(client.stats()));`);
    // Closed in the turn it was made, with the daemon up: a hand-off file, and not even node:net.
    const handedOver = await run(cli(false));
    // Flushed first: over the socket.
    const written = await run(cli(true));
    expect(floor).toContain('NativeModule net');
    expect(handedOver).not.toContain('NativeModule net');
    // perf_hooks (the global `performance`) alone brings nine modules and about 2 ms.
    expect(handedOver.filter((name) => !floor.includes(name))).toEqual([]);
    expect(written.filter((name) => !floor.includes(name))).toEqual([]);
  });
});
