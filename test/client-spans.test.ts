/**
 * Spans in the thin client, against a small real Unix-socket server that speaks the framing and
 * answers `initialize` (the daemon's `trace/span` handler is tested on its own): ids and parent
 * links, explicit times, what a span carries, batching, the host's resource, spans open at exit,
 * and the hand-off file when no daemon answers.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createSpanBuffer } from '../client/span-buffer.js';
import { createClient, type TelemetryClient } from '../client/index.js';
import {
  createFrameDecoder,
  encodeFrame,
  type Handoff,
  type HostSpan,
  hostSpanProblem,
  type Initialize,
  MAX_BATCH_EVENTS,
  MAX_BATCH_RECORDS,
  MAX_BATCH_SPANS,
  MAX_MESSAGE_BYTES,
  PACKAGE_VERSION,
  PROTOCOL_VERSION,
  SERVER_NAME,
  type TraceSpanBatch,
} from '../protocol/index.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
// What a host imports: `codexd/client`, the single-file bundle.
const CLIENT_URL = new URL('../dist/client/codexd-client.js', import.meta.url).href;

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/;

interface Received {
  readonly method: string;
  readonly params: Record<string, unknown>;
}

/** A stand-in daemon: answers `initialize` with the given limits and keeps every message it reads. */
interface FakeDaemon {
  readonly messages: Received[];
  /** Params of each `initialize`. */
  initializes(): Initialize.Params[];
  /** Params of each `trace/span` batch, in arrival order. */
  spanBatches(): TraceSpanBatch.Params[];
  spans(): HostSpan[];
  /** Resolves once `count` spans have arrived: a flushed write is in the kernel, not yet read here. */
  received(count: number): Promise<HostSpan[]>;
  close(): Promise<void>;
}

async function startFakeDaemon(socketPath: string, limits: { maxBatchSpans?: number; maxMessageBytes?: number } = {}): Promise<FakeDaemon> {
  const messages: Received[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const decoder = createFrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      for (const frame of decoder.push(chunk)) {
        if (frame.kind !== 'message') continue;
        const message = frame.message as { id?: number; method: string; params: Record<string, unknown> };
        messages.push({ method: message.method, params: message.params });
        if (message.method === 'initialize' && message.id !== undefined) {
          const result: Initialize.Result = {
            protocolVersion: PROTOCOL_VERSION,
            serverInfo: { name: SERVER_NAME, version: PACKAGE_VERSION },
            limits: {
              maxMessageBytes: limits.maxMessageBytes ?? MAX_MESSAGE_BYTES,
              maxBatchRecords: MAX_BATCH_RECORDS,
              maxBatchEvents: MAX_BATCH_EVENTS,
              maxBatchSpans: limits.maxBatchSpans ?? MAX_BATCH_SPANS,
            },
          };
          socket.write(encodeFrame({ jsonrpc: '2.0', id: message.id, result }));
        }
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, resolve);
  });
  const spanBatches = (): TraceSpanBatch.Params[] => messages.filter((message) => message.method === 'trace/span').map((message) => message.params as unknown as TraceSpanBatch.Params);
  return {
    messages,
    initializes: () => messages.filter((message) => message.method === 'initialize').map((message) => message.params as unknown as Initialize.Params),
    spanBatches,
    spans: () => spanBatches().flatMap((batch) => batch.spans),
    async received(count) {
      await expect.poll(() => spanBatches().flatMap((batch) => batch.spans).length).toBeGreaterThanOrEqual(count);
      return spanBatches().flatMap((batch) => batch.spans);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Runs a host script (an ES module importing the client bundle) to its exit. */
function runHost(source: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', source], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, CODEXD_NO_SPAWN: '1' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

function expectValid(spans: readonly HostSpan[]): void {
  spans.forEach((span, index) => expect(hostSpanProblem(span, index)).toBeNull());
}

describe('client spans', () => {
  let dir: string;
  let socketPath: string;
  let daemon: FakeDaemon | undefined;
  let client: TelemetryClient | undefined;
  let errors: string[];

  function connect(extra: Partial<Parameters<typeof createClient>[0]> = {}): TelemetryClient {
    client = createClient({ clientInfo: { name: 'span-host', version: '1.2.3' }, socketPath, spawn: false, closeTimeoutMs: 500, onError: (message) => errors.push(message), ...extra });
    return client;
  }

  beforeEach(() => {
    // A short path: a Unix socket's path is limited to about 100 bytes.
    dir = mkdtempSync(join(tmpdir(), 'cdx-span-'));
    socketPath = join(dir, 'codexd.sock');
    errors = [];
  });

  afterEach(async () => {
    await client?.close();
    client = undefined;
    await daemon?.close();
    daemon = undefined;
    rmSync(dir, { recursive: true, force: true });
  });

  it('mints W3C ids, links children to their parents, round-trips traceparent, and sends the resource in initialize', async () => {
    daemon = await startFakeDaemon(socketPath);
    const resource = { 'service.name': 'codex-tui', 'service.version': '0.50.0', 'host.arch': 'arm64', 'process.pid': 42, 'deployment.ci': false };
    const telemetry = connect({ resource });
    const root = telemetry.startSpan('turn/start', { kind: 'server' });
    const child = telemetry.startSpan('tool', { parent: root });
    // A traceparent string, as a child process would get it in its environment.
    const grandchild = telemetry.startSpan('exec', { parent: child.traceparent() });
    const byContext = telemetry.startSpan('exec.retry', { parent: grandchild.spanContext() });
    const other = telemetry.startSpan('thread/list');

    for (const span of [root, child, grandchild, byContext, other]) {
      const [, traceId, spanId, flags] = TRACEPARENT.exec(span.traceparent()) as RegExpExecArray;
      expect(span.spanContext()).toEqual({ traceId, spanId, flags: 1 });
      expect(flags).toBe('01');
      expect(span.isRecording()).toBe(true);
    }
    byContext.end();
    grandchild.end();
    child.end();
    root.end();
    other.end();
    await telemetry.flush();

    const spans = await daemon.received(5);
    expectValid(spans);
    const named = Object.fromEntries(spans.map((span) => [span.name, span]));
    expect(Object.keys(named).sort()).toEqual(['exec', 'exec.retry', 'thread/list', 'tool', 'turn/start']);
    for (const span of spans) {
      expect(span.traceId).toMatch(TRACE_ID);
      expect(span.spanId).toMatch(SPAN_ID);
      expect(span.traceId).not.toBe('0'.repeat(32));
    }
    expect(named['turn/start']).toMatchObject({ kind: 'server', spanId: root.spanContext().spanId, traceId: root.spanContext().traceId });
    expect(named['turn/start']?.parentSpanId).toBeUndefined();
    expect(named.tool?.parentSpanId).toBe(named['turn/start']?.spanId);
    expect(named.exec?.parentSpanId).toBe(named.tool?.spanId);
    expect(named['exec.retry']?.parentSpanId).toBe(named.exec?.spanId);
    for (const name of ['tool', 'exec', 'exec.retry']) expect(named[name]?.traceId).toBe(named['turn/start']?.traceId);
    // A root span starts a trace of its own.
    expect(named['thread/list']?.traceId).not.toBe(named['turn/start']?.traceId);
    expect(named['thread/list']?.parentSpanId).toBeUndefined();

    expect(daemon.initializes()).toHaveLength(1);
    expect(daemon.initializes()[0]?.resource).toEqual(resource);
    expect(telemetry.stats().spans).toEqual({ buffered: 0, sent: 5, dropped: {}, handedOff: 0, open: 0, ignored: {} });
    expect(errors).toEqual([]);
  });

  it('mints distinct ids for many spans', () => {
    const telemetry = connect();
    const traceIds = new Set<string>();
    const spanIds = new Set<string>();
    // More than one pool of random bytes.
    for (let i = 0; i < 2000; i++) {
      const context = telemetry.startSpan('s').spanContext();
      expect(context.traceId).toMatch(TRACE_ID);
      expect(context.spanId).toMatch(SPAN_ID);
      traceIds.add(context.traceId);
      spanIds.add(context.spanId);
    }
    expect(traceIds.size).toBe(2000);
    expect(spanIds.size).toBe(2000);
  });

  it('keeps explicit start and end times, and the events, status, kind and attributes as set', async () => {
    daemon = await startFakeDaemon(socketPath);
    const telemetry = connect();
    const startTime = Date.now() - 5000 + 0.25;
    const span = telemetry.startSpan('model.request', { kind: 'client', startTime, attributes: { 'http.method': 'POST', attempt: 1 } });
    span.setAttribute('model', 'gpt-5').setAttributes({ streamed: true, tokens: 812, skipped: undefined });
    span.setAttribute('attempt', 2);
    // Names an object has by inheritance are attributes like any other; __proto__ is not taken.
    span.setAttribute('constructor', 'ctor').setAttribute('toString', 1);
    span.setAttribute('__proto__', 'polluted');
    span.addEvent('retry', { reason: 'rate_limited', wait_ms: 250 }, startTime + 10.5);
    span.addEvent('first_token', startTime + 20);
    span.setStatus({ code: 'error', message: 'stream reset' });
    span.end(startTime + 1234.5);
    // After end(), nothing changes and nothing more is sent.
    span.setAttribute('late', 1);
    span.addEvent('late');
    span.setStatus({ code: 'ok' });
    span.end(startTime + 9999);
    expect(span.isRecording()).toBe(false);

    const ok = telemetry.startSpan('ok-is-final');
    ok.setStatus({ code: 'ok', message: 'dropped: ok takes no message' });
    ok.setStatus({ code: 'error', message: 'too late' });
    ok.setStatus({ code: 'unset' });
    const before = performance.timeOrigin + performance.now();
    const timed = telemetry.startSpan('default-times');
    timed.end();
    ok.end();
    await telemetry.flush();

    const spans = await daemon.received(3);
    expectValid(spans);
    expect(spans).toHaveLength(3);
    expect(spans[0]).toEqual({
      traceId: span.spanContext().traceId,
      spanId: span.spanContext().spanId,
      name: 'model.request',
      kind: 'client',
      startTime,
      endTime: startTime + 1234.5,
      status: { code: 'error', message: 'stream reset' },
      attributes: { 'http.method': 'POST', attempt: 2, model: 'gpt-5', streamed: true, tokens: 812, constructor: 'ctor', toString: 1 },
      events: [
        { name: 'retry', time: startTime + 10.5, attributes: { reason: 'rate_limited', wait_ms: 250 } },
        { name: 'first_token', time: startTime + 20 },
      ],
    });
    const timedSpan = spans.find((candidate) => candidate.name === 'default-times') as HostSpan;
    expect(timedSpan.startTime).toBeGreaterThanOrEqual(before);
    expect(timedSpan.endTime).toBeGreaterThanOrEqual(timedSpan.startTime);
    expect(Math.abs(timedSpan.startTime - Date.now())).toBeLessThan(5000);
    expect(spans.find((candidate) => candidate.name === 'ok-is-final')?.status).toEqual({ code: 'ok' });
    expect(telemetry.stats().spans).toMatchObject({ sent: 3, open: 0, dropped: {}, ignored: { invalid_attributes: 1 } });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('links to other spans, by span, context or traceparent; a bad link is left out', async () => {
    daemon = await startFakeDaemon(socketPath);
    const telemetry = connect();
    const a = telemetry.startSpan('a');
    const b = telemetry.startSpan('b');
    const external = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const span = telemetry.startSpan('batch', {
      links: [{ context: a, attributes: { why: 'follows' } }, { context: b.spanContext() }, { context: external }, { context: 'not-a-traceparent' }],
    });
    span.end();
    a.end();
    b.end();
    await telemetry.flush();
    const batch = (await daemon.received(3)).find((candidate) => candidate.name === 'batch') as HostSpan;
    expectValid([batch]);
    expect(batch.links).toEqual([
      { traceId: a.spanContext().traceId, spanId: a.spanContext().spanId, flags: 1, attributes: { why: 'follows' } },
      { traceId: b.spanContext().traceId, spanId: b.spanContext().spanId, flags: 1 },
      { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', flags: 1 },
    ]);
    expect(telemetry.stats().spans.ignored).toEqual({ invalid_link: 1 });
  });

  it('never throws on bad input: counts it, reports each kind once, and tells the daemon what it dropped', async () => {
    daemon = await startFakeDaemon(socketPath);
    const telemetry = connect();
    // A bad name: not sent; the span still carries its context on.
    const unnamed = telemetry.startSpan('');
    expect(unnamed.isRecording()).toBe(false);
    expect(unnamed.traceparent()).toMatch(TRACEPARENT);
    telemetry.startSpan('x'.repeat(2000)).end();
    telemetry.startSpan('lone \uD800 surrogate').end();
    unnamed.setAttribute('k', 'v').end();
    // Bad attributes are left out; the span is sent with the rest.
    const span = telemetry.startSpan('tool');
    span.setAttribute('has space', 'x');
    span.setAttribute('nan', Number.NaN);
    span.setAttribute('object', { nested: true } as never);
    span.setAttribute('fine', 'yes');
    span.setAttribute('long', 'y'.repeat(70_000));
    span.addEvent('', { a: 1 });
    span.setStatus({ code: 'bogus' } as never);
    span.end();
    // A malformed parent: a new root, counted each time, reported once.
    const orphan = telemetry.startSpan('orphan', { parent: '00-nothex-01' });
    telemetry.startSpan('orphan2', { parent: { traceId: 'x', spanId: 'y', flags: 1 } }).end();
    orphan.end();
    // An unsampled parent: the child is not sampled either and is not sent.
    const unsampled = telemetry.startSpan('unsampled', { parent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' });
    expect(unsampled.isRecording()).toBe(false);
    expect(unsampled.traceparent()).toMatch(/^00-4bf92f3577b34da6a3ce929d0e0e4736-[0-9a-f]{16}-00$/);
    const grandchild = telemetry.startSpan('grandchild', { parent: unsampled });
    expect(grandchild.traceparent()).toMatch(/-00$/);
    grandchild.end();
    unsampled.end();
    // An end before the start.
    telemetry.startSpan('backwards', { startTime: Date.now() }).end(Date.now() - 60_000);
    telemetry.startSpan('bad start', { startTime: Number.NaN }).end();
    await telemetry.flush();

    const spans = await daemon.received(3);
    expectValid(spans);
    expect(spans.map((candidate) => candidate.name).sort()).toEqual(['orphan', 'orphan2', 'tool']);
    const tool = spans.find((candidate) => candidate.name === 'tool') as HostSpan;
    expect(Object.keys(tool.attributes ?? {}).sort()).toEqual(['fine', 'long']);
    expect(String(tool.attributes?.long)).toHaveLength(64 * 1024);
    expect(String(tool.attributes?.long).endsWith('…[truncated]')).toBe(true);
    expect(tool.events).toBeUndefined();
    expect(tool.status).toBeUndefined();
    for (const name of ['orphan', 'orphan2']) expect(spans.find((candidate) => candidate.name === name)?.parentSpanId).toBeUndefined();

    const stats = telemetry.stats().spans;
    expect(stats.dropped).toEqual({ invalid_name: 3, not_sampled: 2, invalid_time: 2 });
    expect(stats.ignored).toEqual({ invalid_attributes: 3, invalid_span_event: 1, invalid_status: 1, invalid_trace_context: 2 });
    // `not_sampled` is the caller's choice: counted here, not reported as a drop.
    expect(daemon.spanBatches().reduce<Record<string, number>>((all, batch) => {
      for (const [reason, count] of Object.entries(batch.dropped ?? {})) all[reason] = (all[reason] ?? 0) + (count ?? 0);
      return all;
    }, {})).toEqual({ invalid_name: 3, invalid_time: 2 });
    // One report per kind of problem, however often it happened.
    expect(errors.filter((message) => message.includes('span name'))).toHaveLength(1);
    expect(errors.filter((message) => message.includes('parent'))).toHaveLength(1);
    expect(errors.filter((message) => message.includes('attribute'))).toHaveLength(1);
    expect(errors.some((message) => message.includes('not_sampled') || message.includes('sampled'))).toBe(false);
  });

  it('sends one trace/span notification per event-loop turn, split at maxBatchSpans and at the message size', async () => {
    daemon = await startFakeDaemon(socketPath, { maxBatchSpans: 3, maxMessageBytes: 150_000 });
    const telemetry = connect();
    await expect.poll(() => telemetry.stats().connected).toBe(true);
    telemetry.startSpan('one').end();
    telemetry.startSpan('two').end();
    await daemon.received(2);
    expect(daemon.spanBatches().map((batch) => batch.spans.length)).toEqual([2]);

    for (let i = 0; i < 8; i++) telemetry.startSpan(`small-${i}`).end();
    await daemon.received(10);
    const small = daemon.spanBatches().slice(1);
    expect(small.map((batch) => batch.spans.length)).toEqual([3, 3, 2]);

    // Three spans of 60 KB each fit one batch by count, not by bytes.
    for (let i = 0; i < 3; i++) telemetry.startSpan(`large-${i}`, { attributes: { output: 'z'.repeat(60_000) } }).end();
    await daemon.received(13);
    const large = daemon.spanBatches().slice(4);
    expect(large.length).toBeGreaterThan(1);
    for (const batch of large) expect(Buffer.byteLength(JSON.stringify({ jsonrpc: '2.0', method: 'trace/span', params: batch }))).toBeLessThanOrEqual(150_000);
    expect(large.flatMap((batch) => batch.spans.map((span) => span.name))).toEqual(['large-0', 'large-1', 'large-2']);
    expect(telemetry.stats().spans).toMatchObject({ sent: 13, buffered: 0, dropped: {} });
  });

  it('bounds the queue of ended spans and counts what it drops', () => {
    // No daemon: every ended span waits.
    const telemetry = connect({ maxBufferedSpans: 10 });
    for (let i = 0; i < 25; i++) telemetry.startSpan('queued').end();
    expect(telemetry.stats().spans).toMatchObject({ buffered: 10, dropped: { client_buffer_full: 15 } });
    expect(errors.filter((message) => message.includes('span buffer full'))).toHaveLength(1);

    const buffer = createSpanBuffer(100, 1000);
    const span = (name: string): HostSpan => ({ traceId: '1'.repeat(32), spanId: '2'.repeat(16), name, startTime: 1, endTime: 2 });
    expect(buffer.add(span('a'), 600)).toBe(true);
    expect(buffer.add(span('b'), 600)).toBe(false);
    expect(buffer.add(span('c'), 400)).toBe(true);
    expect(buffer.take(1).map((taken) => taken.name)).toEqual(['a']);
    expect(buffer.add(span('d'), 600)).toBe(true);
    expect(buffer.take(10).map((taken) => taken.name)).toEqual(['c', 'd']);
    expect(buffer.size).toBe(0);
  });

  it("puts a session's id on its spans, after its session/start; a span ending after the session's end is dropped", async () => {
    daemon = await startFakeDaemon(socketPath);
    const telemetry = connect();
    const session = telemetry.session({ sessionId: 'thread-7', attributes: { model: 'gpt-5' } });
    const turn = session.startSpan('turn', { attributes: { 'turn.id': 't1' } });
    const late = session.startSpan('late');
    turn.end();
    session.end();
    late.end();
    const after = session.startSpan('after-end');
    expect(after.isRecording()).toBe(false);
    const invalid = telemetry.session({ sessionId: '' }).startSpan('of-invalid-session');
    expect(invalid.isRecording()).toBe(false);
    await telemetry.flush();
    await daemon.received(1);
    await expect.poll(() => daemon?.messages.some((message) => message.method === 'session/end')).toBe(true);

    const methods = daemon.messages.map((message) => message.method).filter((method) => method !== 'initialize');
    // The session's span goes before its end, so the daemon still knows the session.
    expect(methods).toEqual(['session/start', 'trace/span', 'session/end']);
    const spans = daemon.spans();
    expect(spans.map((span) => [span.name, span.sessionId])).toEqual([['turn', 'thread-7']]);
    expect(telemetry.stats().spans.dropped).toEqual({ unknown_session: 2, invalid_session_id: 1 });
  });

  it('counts spans still open at close() as client_span_open and tells the daemon; their end() does nothing', async () => {
    daemon = await startFakeDaemon(socketPath);
    const telemetry = connect();
    const open = telemetry.startSpan('never-ended');
    telemetry.startSpan('done').end();
    expect(telemetry.stats().spans.open).toBe(1);
    await telemetry.close();
    open.end();
    telemetry.startSpan('after-close').end();
    expect(telemetry.stats().spans).toMatchObject({ sent: 1, open: 0, dropped: { client_span_open: 1, client_undeliverable: 1 } });
    await expect.poll(() => daemon?.spanBatches().some((batch) => batch.dropped?.client_span_open === 1)).toBe(true);
    expect(daemon.spans().map((span) => span.name)).toEqual(['done']);
  });

  it('with no daemon, close() hands ended spans over in a file with the resource and the open spans counted', async () => {
    const resource = { 'service.name': 'codex-exec', 'service.version': '0.50.0' };
    const telemetry = connect({ resource });
    const parent = telemetry.startSpan('exec');
    telemetry.startSpan('tool', { parent }).end();
    parent.end();
    telemetry.startSpan('still-open');
    await telemetry.close();
    const folder = join(dir, 'handoff');
    const files = readdirSync(folder).filter((name) => name.endsWith('.json'));
    expect(files).toHaveLength(1);
    const handoff = JSON.parse(readFileSync(join(folder, files[0] as string), 'utf8')) as Handoff;
    expect(handoff.resource).toEqual(resource);
    expect(handoff.spans?.map((span) => span.name)).toEqual(['tool', 'exec']);
    expectValid(handoff.spans ?? []);
    expect(handoff.spans?.[0]?.parentSpanId).toBe(handoff.spans?.[1]?.spanId);
    expect(handoff.spansDropped).toEqual({ client_span_open: 1 });
    expect(telemetry.stats().spans).toMatchObject({ handedOff: 2, buffered: 0, dropped: { client_span_open: 1 } });
  });

  it('reports an invalid resource once and connects without it', async () => {
    daemon = await startFakeDaemon(socketPath);
    const telemetry = connect({ resource: { 'service.name': 'ok', 'bad key': 'x' } });
    await expect.poll(() => telemetry.stats().connected).toBe(true);
    expect(daemon.initializes()[0]?.resource).toBeUndefined();
    expect(errors.filter((message) => message.includes('resource'))).toHaveLength(1);
  });

  it('at exit with the daemon up, writes ended spans and counts open ones as client_span_open', async () => {
    daemon = await startFakeDaemon(socketPath);
    const host = `import { createClient } from ${JSON.stringify(CLIENT_URL)};
      const client = createClient({ clientInfo: { name: 'exiting', version: '1' }, socketPath: ${JSON.stringify(socketPath)}, spawn: false });
      while (!client.stats().connected) await new Promise((resolve) => setTimeout(resolve, 5));
      const root = client.startSpan('root');
      client.startSpan('ended', { parent: root }).end();
      client.startSpan('also-open', { parent: root });
      process.exit(0);`;
    const result = await runHost(host);
    expect(result.code, result.stderr).toBe(0);
    await expect.poll(() => daemon?.spanBatches().length).toBeGreaterThan(0);
    expect(daemon.spans().map((span) => span.name)).toEqual(['ended']);
    expect(daemon.spanBatches().at(-1)?.dropped).toEqual({ client_span_open: 2 });
  });

  it('at exit with no daemon, hands ended spans over in a file, with spansDropped', async () => {
    const host = `import { createClient } from ${JSON.stringify(CLIENT_URL)};
      const client = createClient({ clientInfo: { name: 'exiting', version: '1' }, socketPath: ${JSON.stringify(socketPath)}, spawn: false, resource: { 'service.name': 'codex-cli' } });
      const root = client.startSpan('root', { parent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
      client.startSpan('step', { parent: root, startTime: 1700000000000.5 }).end(1700000000100.25);
      client.session({ sessionId: 's-1' }).startSpan('session-span').end();
      process.stdout.write(JSON.stringify(client.stats().spans));
      process.exit(0);`;
    const result = await runHost(host);
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ buffered: 2, open: 1 });
    const folder = join(dir, 'handoff');
    const files = readdirSync(folder).filter((name) => name.endsWith('.json'));
    expect(files).toHaveLength(1);
    const handoff = JSON.parse(readFileSync(join(folder, files[0] as string), 'utf8')) as Handoff;
    expect(handoff.resource).toEqual({ 'service.name': 'codex-cli' });
    expect(handoff.spansDropped).toEqual({ client_span_open: 1 });
    expect(handoff.sessions?.map((session) => session.sessionId)).toEqual(['s-1']);
    const spans = handoff.spans ?? [];
    expectValid(spans);
    expect(spans.map((span) => span.name)).toEqual(['step', 'session-span']);
    expect(spans[0]).toMatchObject({ traceId: '4bf92f3577b34da6a3ce929d0e0e4736', startTime: 1700000000000.5, endTime: 1700000000100.25 });
    expect(spans[0]?.parentSpanId).toMatch(SPAN_ID);
    expect(spans[0]?.parentSpanId).not.toBe('00f067aa0ba902b7');
    expect(spans[1]?.sessionId).toBe('s-1');
  });
});
