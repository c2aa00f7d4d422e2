/**
 * The client does not wait for the answer to `initialize` before its first batch: it writes it
 * right behind, and keeps it until the answer says whether the daemon took it. Seen through a
 * proxy between a real client and the real daemon, which notes the order of the frames on the
 * socket, holds the daemon's answers back, or makes the daemon refuse a connection's
 * `initialize`. Whatever happens, every record arrives once: through the socket, or a hand-off
 * file the daemon ingests.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createClient, type TelemetryClient } from '../client/index.js';
import { encodeFrame, ErrorCodes } from '../protocol/index.js';
import { type DaemonProcess, ROOT, type TestHome } from './support/daemon.js';
import { type FrameProxy, type FrameProxyOptions, type PassedFrame, startFrameProxy } from './support/frame-proxy.js';
import { useHarness } from './support/harness.js';
import type { OtlpReceiver } from './support/otlp-receiver.js';

const CLIENT_URL = new URL('../dist/client/codexd-client.js', import.meta.url).href;

/** 200 counter increments over 4 tag sets and 300 histogram values: 304 measurements once summed. */
const RECORD_SOURCE = `for (let i = 0; i < 500; i++) {
  if (i % 5 < 2) client.counter('codex.test.calls', 1, { tool: 'tool-' + (i % 4) });
  else client.histogram('codex.test.latency_ms', i);
}`;
const record = new Function('client', RECORD_SOURCE) as (client: TelemetryClient) => void;
/**
 * The host's next turn, when a client connects: a client closed before it (in the turn it was
 * made) with the daemon up hands its records over as a file and makes no connection.
 */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** The frames of one connection, as `up:method` and `down:id` (`down:1!` for an error). */
function sequence(frames: readonly PassedFrame[], connection: number): string[] {
  return frames
    .filter((frame) => frame.connection === connection)
    .map((frame) => (frame.direction === 'up' ? `up:${frame.method ?? `answer ${String(frame.id)}`}` : `down:${String(frame.id)}${frame.error === undefined ? '' : '!'}`));
}

/**
 * A host that records and returns without close(): Node reports the connection a turn later,
 * the records go behind initialize, and nothing keeps the process alive once they are written.
 */
function recordingHost(name: string, socketPath: string): string {
  return `import { createClient } from ${JSON.stringify(CLIENT_URL)};
    const client = createClient({ clientInfo: { name: ${JSON.stringify(name)}, version: '1' }, socketPath: ${JSON.stringify(socketPath)} });
    ${RECORD_SOURCE}`;
}

function runHost(home: TestHome, source: string): Promise<{ code: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], { env: home.env, cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stderr })));
}

describe('the first batch goes behind initialize', () => {
  const harness = useHarness();
  let home: TestHome;
  let receiver: OtlpReceiver;
  let daemon: DaemonProcess;
  let proxy: FrameProxy | undefined;

  beforeEach(async () => {
    ({ home, receiver, daemon } = await harness.start());
  });
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  // In the daemon's socket folder, so a hand-off file goes where the daemon looks.
  async function throughProxy(options: FrameProxyOptions): Promise<FrameProxy> {
    proxy = await startFrameProxy(join(home.dir, 'run', 'proxy.sock'), home.socketPath, options);
    return proxy;
  }

  async function expectEveryRecordOnce(): Promise<void> {
    await daemon.request('daemon/flush', {});
    expect(receiver.sumOf('codex.test.calls')).toBe(200);
    expect(receiver.histogramTotals('codex.test.latency_ms').count).toBe(300);
  }

  const handoffFiles = (): string[] => {
    const dir = join(home.dir, 'run', 'handoff');
    return existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.json')) : [];
  };

  it('the daemon handles a batch written with initialize, in one write, after it', async () => {
    const peer = await harness.peer(null);
    peer.write(
      Buffer.concat([
        encodeFrame({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: 1, clientInfo: { name: 'one-write', version: '1' } } }),
        encodeFrame({ jsonrpc: '2.0', id: 2, method: 'metric/record', params: { records: [{ name: 'codex.test.calls', kind: 'counter', value: 3 }] } }),
      ]),
    );
    const first = await peer.next();
    const second = await peer.next();
    expect(first).toMatchObject({ id: 1, result: { protocolVersion: 1 } });
    expect(second).toMatchObject({ id: 2, result: { accepted: 1 } });
    expect((await daemon.status()).protocolErrors.not_initialized).toBeUndefined();
  });

  it('a batch behind an initialize the daemon refuses is not taken: the daemon counts the message, answers nothing for it', async () => {
    const peer = await harness.peer(null);
    peer.write(
      Buffer.concat([
        encodeFrame({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: 0, clientInfo: { name: 'refused', version: '1' } } }),
        encodeFrame({ jsonrpc: '2.0', method: 'metric/record', params: { records: [{ name: 'codex.test.calls', kind: 'counter', value: 3 }] } }),
        encodeFrame({ jsonrpc: '2.0', id: 2, method: 'metric/record', params: { records: [{ name: 'codex.test.calls', kind: 'counter', value: 4 }] } }),
      ]),
    );
    expect(await peer.next()).toMatchObject({ id: 1, error: { code: ErrorCodes.UnsupportedProtocolVersion } });
    expect(await peer.next()).toMatchObject({ id: 2, error: { code: ErrorCodes.NotInitialized } });
    const status = await daemon.status();
    expect(status.protocolErrors.not_initialized).toBe(2);
    expect(status.signals.metrics.received).toBe(0);
  });

  it('writes its records before the answer to initialize arrives; the daemon takes and exports them once', async () => {
    const { path, frames } = await throughProxy({ holdAnswersMs: 300 });
    const client = createClient({ clientInfo: { name: 'pipelined', version: '1' }, socketPath: path, spawn: false });
    await nextTurn();
    record(client);
    await client.close();
    expect(sequence(frames, 0).slice(0, 3)).toEqual(['up:initialize', 'up:metric/record', 'down:1']);
    expect(client.stats()).toMatchObject({ sent: 304, buffered: 0, handedOff: 0, dropped: {} });
    await expectEveryRecordOnce();
    const status = await daemon.status();
    expect(status.signals.metrics.received).toBe(304);
    expect(status.protocolErrors).toEqual({});
    expect(handoffFiles()).toEqual([]);
  });

  it('when the daemon refuses initialize, takes the pipelined batch back and sends it on the next connection, once', async () => {
    const { path, frames } = await throughProxy({ holdAnswersMs: 50, refuseInitialize: (connection) => connection === 0 });
    const errors: string[] = [];
    const client = createClient({ clientInfo: { name: 'refused-once', version: '1' }, socketPath: path, spawn: false, onError: (message) => errors.push(message) });
    record(client);
    await client.flush();
    await client.close();
    expect(sequence(frames, 0)).toEqual(['up:initialize', 'up:metric/record', 'down:1!']);
    expect(sequence(frames, 1).slice(0, 2)).toEqual(['up:initialize', 'up:metric/record']);
    expect(errors.some((message) => message.includes('refused initialize'))).toBe(true);
    expect(client.stats()).toMatchObject({ sent: 304, handedOff: 0, dropped: {} });
    await expectEveryRecordOnce();
    const status = await daemon.status();
    // The refused copy was counted as a message sent before initialize, and taken in never.
    expect(status.protocolErrors.not_initialized).toBe(1);
    expect(status.signals.metrics.received).toBe(304);
  });

  it('when the daemon refuses every initialize, close() hands the pipelined records over as a file, ingested once', async () => {
    const { path, frames } = await throughProxy({ holdAnswersMs: 50, refuseInitialize: () => true });
    const client = createClient({ clientInfo: { name: 'refused-always', version: '1' }, socketPath: path, spawn: false, closeTimeoutMs: 1000 });
    await nextTurn();
    record(client);
    await client.close();
    expect(sequence(frames, 0)).toEqual(['up:initialize', 'up:metric/record', 'down:1!']);
    expect(client.stats()).toMatchObject({ sent: 0, handedOff: 304, dropped: {} });
    await expect.poll(async () => (await daemon.status()).handoff.recordsIngested, { timeout: 5000 }).toBe(304);
    await expectEveryRecordOnce();
  });

  it('writes initialize as soon as connect() returns, on the host\'s next turn: the daemon has taken it while the host keeps its thread', async () => {
    const child = spawn(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { createClient } from ${JSON.stringify(CLIENT_URL)};
        createClient({ clientInfo: { name: 'before-yield', version: '1' } });
        await new Promise((resolve) => setImmediate(resolve));
        process.stderr.write('created\\n');
        // The host keeps its thread: Node cannot report the connection until this ends.
        const until = Date.now() + 1500;
        while (Date.now() < until);`,
      ],
      { env: home.env, cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const exited = new Promise((resolve) => child.on('exit', resolve));
    await new Promise<void>((resolve) => child.stderr.on('data', (chunk: Buffer) => chunk.toString().includes('created') && resolve()));
    const started = Date.now();
    let seen = false;
    while (!seen && Date.now() - started < 1000) {
      seen = (await daemon.status()).clients.some((client) => client.name === 'before-yield');
      if (!seen) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(seen).toBe(true);
    await exited;
  });

  it('a host that returns without close() waits at exit for the answer behind which its records went, and does not hand them over too', async () => {
    const { path, frames } = await throughProxy({ holdAnswersMs: 100 });
    const host = await runHost(home, recordingHost('exiting', path));
    expect(host.code, host.stderr).toBe(0);
    expect(sequence(frames, 0).slice(0, 3)).toEqual(['up:initialize', 'up:metric/record', 'down:1']);
    expect(handoffFiles()).toEqual([]);
    await expectEveryRecordOnce();
    expect((await daemon.status()).handoff.filesIngested).toBe(0);
  });

  it('a host that returns without close() hands its pipelined records over when the daemon refuses initialize', async () => {
    const { path, frames } = await throughProxy({ holdAnswersMs: 50, refuseInitialize: () => true });
    const host = await runHost(home, recordingHost('exiting-refused', path));
    expect(host.code, host.stderr).toBe(0);
    expect(sequence(frames, 0)).toEqual(['up:initialize', 'up:metric/record', 'down:1!']);
    await expect.poll(async () => (await daemon.status()).handoff.recordsIngested, { timeout: 5000 }).toBe(304);
    await expectEveryRecordOnce();
    expect((await daemon.status()).protocolErrors.not_initialized).toBe(1);
  });
});
