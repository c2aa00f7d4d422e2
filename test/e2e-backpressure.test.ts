/**
 * Bounds on what one client, or many, can make the daemon hold. A client that sends requests and
 * never reads the answers must not grow the daemon's memory without bound: the daemon stops
 * reading from it while its unsent answers pass a bound, serves everyone else meanwhile, and
 * loses nothing. Connections that never initialize are closed; past the connection cap, a new
 * one is told why and closed.
 */
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { MAX_PARTIAL_FRAME_BYTES_TOTAL, MAX_UNSENT_RESPONSE_BYTES } from '../daemon/bounded-message-reader.js';
import { INITIALIZE_TIMEOUT_MS } from '../daemon/connection.js';
import { MAX_CONNECTIONS } from '../daemon/connections.js';
import { createFrameDecoder, encodeFrame, ErrorCodes } from '../protocol/index.js';
import { createTestHome, type DaemonProcess, startDaemonProcess, type TestHome } from './support/daemon.js';
import { openRawPeer } from './support/raw-client.js';

/** The daemon's resident memory, in bytes, from /proc. */
function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((text) => text.startsWith('VmRSS:')) ?? 'VmRSS: 0 kB';
  return Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024;
}

describe('response backpressure', () => {
  let home: TestHome | undefined;
  let daemon: DaemonProcess | undefined;

  afterEach(async () => {
    await daemon?.stop();
    home?.remove();
    home = daemon = undefined;
  });

  it('stops reading a client that does not read its answers, serves others, and delivers every answer once it reads', async () => {
    home = createTestHome();
    daemon = await startDaemonProcess(home);
    const pid = daemon.child.pid as number;
    // The daemon loads its serving code with the first connection: one client served first, so
    // what is measured below is what the unread answers hold, not that code.
    const first = await openRawPeer(home.socketPath);
    await first.initialize('first');
    const answerBytes = JSON.stringify(await first.request(1, 'daemon/status', {})).length;
    first.destroy();
    const before = rssOf(pid);

    const greedy = connect(home.socketPath);
    await new Promise((resolve) => greedy.once('connect', resolve));
    // Nothing is read from this socket until the end.
    greedy.pause();
    const REQUESTS = 20_000;
    greedy.write(encodeFrame({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: 1, clientInfo: { name: 'greedy', version: '1' } } }));
    const batch: Buffer[] = [];
    for (let id = 1; id <= REQUESTS; id++) batch.push(encodeFrame({ jsonrpc: '2.0', id, method: 'daemon/status', params: {} }));
    greedy.write(Buffer.concat(batch));
    // Each answer is a few KiB: all 20,000 would be tens of MiB held for this one client. The
    // daemon holds at most MAX_UNSENT_RESPONSE_BYTES of them, beside the garbage of making them.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const grown = rssOf(pid) - before;
    expect(answerBytes * REQUESTS).toBeGreaterThan(MAX_UNSENT_RESPONSE_BYTES * 8);
    expect(grown).toBeLessThan((answerBytes * REQUESTS) / 2);

    // Everyone else is served meanwhile.
    const other = await openRawPeer(home.socketPath);
    await other.initialize('patient');
    const started = Date.now();
    const answer = await other.request(1, 'metric/record', { records: [{ name: 'codex.test.other', kind: 'counter', value: 1 }] });
    expect(answer.result).toEqual({ accepted: 1, rejected: [] });
    expect(Date.now() - started).toBeLessThan(1000);
    other.destroy();

    // Once the client reads, every answer arrives: nothing was dropped, only held back.
    const decoder = createFrameDecoder();
    let answers = 0;
    const all = new Promise<void>((resolve) => {
      greedy.on('data', (chunk: Buffer) => {
        for (const frame of decoder.push(chunk)) if (frame.kind === 'message' && typeof (frame.message as { id?: unknown }).id === 'number') answers++;
        if (answers === REQUESTS + 1) resolve();
      });
    });
    greedy.resume();
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 30_000))]);
    expect(answers).toBe(REQUESTS + 1);
    greedy.destroy();
  }, 60_000);

  it('closes a connection that never initializes, and keeps one that initialized and idles', async () => {
    home = createTestHome();
    daemon = await startDaemonProcess(home);
    const silent = connect(home.socketPath);
    await new Promise((resolve) => silent.once('connect', resolve));
    const silentClosed = new Promise<number>((resolve) => silent.once('close', () => resolve(Date.now())));
    const idle = await openRawPeer(home.socketPath);
    await idle.initialize('idle-but-initialized');
    const opened = Date.now();
    const closedAt = await Promise.race([silentClosed, new Promise<number>((resolve) => setTimeout(() => resolve(-1), INITIALIZE_TIMEOUT_MS + 3000))]);
    expect(closedAt - opened).toBeGreaterThanOrEqual(INITIALIZE_TIMEOUT_MS - 500);
    expect(closedAt).not.toBe(-1);
    // The initialized one is still served.
    expect((await idle.request(1, 'metric/record', { records: [{ name: 'codex.test.idle', kind: 'counter', value: 1 }] })).result).toEqual({ accepted: 1, rejected: [] });
    idle.destroy();
    expect((await daemon.status()).protocolErrors).toMatchObject({ initialize_timeout: 1 });
  }, 20_000);

  it(`tells the connection past ${MAX_CONNECTIONS} why it is closed, and takes new ones once others leave`, async () => {
    home = createTestHome();
    daemon = await startDaemonProcess(home);
    // In rounds, each connect retried: a Unix socket's listen backlog refuses (EAGAIN) what the
    // daemon has not accepted yet.
    const connectOne = async (): Promise<ReturnType<typeof connect>> => {
      for (;;) {
        const socket = connect((home as TestHome).socketPath);
        const ok = await new Promise<boolean>((resolve) => {
          socket.once('connect', () => resolve(true));
          socket.once('error', () => resolve(false));
        });
        if (ok) {
          socket.on('error', () => undefined);
          return socket;
        }
        socket.destroy();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    };
    const open: ReturnType<typeof connect>[] = [];
    while (open.length < MAX_CONNECTIONS) open.push(...(await Promise.all(Array.from({ length: Math.min(64, MAX_CONNECTIONS - open.length) }, connectOne))));
    // The one past the bound, connected as each before it (the backlog may refuse it while the
    // daemon still accepts the last round): what it is told.
    const extra = await connectOne();
    const decoder = createFrameDecoder();
    const refusal = await new Promise<Record<string, unknown> | null>((resolve) => {
      extra.on('data', (chunk: Buffer) => {
        for (const frame of decoder.push(chunk)) if (frame.kind === 'message') resolve(frame.message as Record<string, unknown>);
      });
      extra.on('close', () => resolve(null));
    });
    expect(refusal).toMatchObject({ id: null, error: { code: ErrorCodes.TooManyConnections, message: `the daemon holds its maximum of ${MAX_CONNECTIONS} connections; try again later` } });
    for (const socket of open.splice(0, 16)) socket.destroy();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const status = await daemon.status();
    expect(status.protocolErrors).toMatchObject({ too_many_connections: 1 });
    for (const socket of open) socket.destroy();
    extra.destroy();
  }, 20_000);

  it('bounds the unfinished frames of all connections together: the one past the bound is told to send again later', async () => {
    home = createTestHome();
    daemon = await startDaemonProcess(home);
    // Each connection starts a frame of almost 8 MiB and sends all of it but the last byte.
    const BODY = 8_000_000;
    const senders: { socket: ReturnType<typeof connect>; messages: Record<string, unknown>[]; closed: boolean }[] = [];
    const count = Math.floor(MAX_PARTIAL_FRAME_BYTES_TOTAL / (BODY - 1)) + 1;
    for (let index = 0; index < count; index++) {
      const socket = connect(home.socketPath);
      await new Promise((resolve) => socket.once('connect', resolve));
      const sender = { socket, messages: [] as Record<string, unknown>[], closed: false };
      const decoder = createFrameDecoder();
      socket.on('error', () => undefined);
      socket.on('data', (chunk: Buffer) => {
        for (const frame of decoder.push(chunk)) if (frame.kind === 'message') sender.messages.push(frame.message as Record<string, unknown>);
      });
      socket.on('close', () => (sender.closed = true));
      socket.write(encodeFrame({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: 1, clientInfo: { name: `big-${index}`, version: '1' } } }));
      await new Promise((resolve) => socket.write(`Content-Length: ${BODY}\r\n\r\n${'x'.repeat(BODY - 1)}`, resolve));
      senders.push(sender);
    }
    const deadline = Date.now() + 10_000;
    const last = senders[senders.length - 1] as (typeof senders)[number];
    while (!last.closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    // The one whose bytes passed the bound was told why and closed; the others hold on.
    expect(last.messages.find((message) => message.id === null)).toMatchObject({ error: { code: ErrorCodes.Overloaded } });
    expect(senders.slice(0, -1).every((sender) => !sender.closed)).toBe(true);
    // The others hold their frames and are still open; a small client is served.
    const small = await openRawPeer(home.socketPath);
    await small.initialize('small');
    expect((await small.request(1, 'metric/record', { records: [{ name: 'codex.test.small', kind: 'counter', value: 1 }] })).result).toEqual({ accepted: 1, rejected: [] });
    small.destroy();
    expect((await daemon.status()).protocolErrors).toMatchObject({ overloaded: 1 });
    for (const sender of senders) sender.socket.destroy();
  }, 60_000);
});
