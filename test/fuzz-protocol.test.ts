/**
 * A seeded protocol fuzz: thousands of requests of every telemetry method, each batch a random
 * mix of valid and malformed items, plus unknown methods and params of the wrong shape, into a
 * real daemon over its socket. Whatever arrives: every request is answered, no handler throws
 * midway through a batch (no -32603), and the books balance exactly, per signal:
 * received = accepted + rejected (+ what a lane drops before accepting). Set CODEXD_FUZZ_SEED to
 * replay a run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ErrorCodes } from '../protocol/index.js';
import { createTestHome, type DaemonProcess, startDaemonProcess, type TestHome } from './support/daemon.js';
import { openRawPeer, type RawPeer } from './support/raw-client.js';

const SEED = Number(process.env.CODEXD_FUZZ_SEED ?? 0x5eed12);
const REQUESTS = 3000;

/** mulberry32: a small seeded generator, so a failing run can be replayed from its seed. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe(`protocol fuzz (seed ${SEED})`, () => {
  let home: TestHome;
  let daemon: DaemonProcess;
  let peer: RawPeer;
  const random = generator(SEED);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const chance = (p: number): boolean => random() < p;

  // Values of every kind a malformed client might send, the awkward numbers included.
  const junk = (): unknown =>
    pick<() => unknown>([
      () => null,
      () => true,
      () => -1,
      () => 1e308 * 10,
      () => 9e15,
      () => Number.MAX_SAFE_INTEGER,
      () => 0.5,
      () => '',
      () => 'x'.repeat(Math.floor(random() * 400)),
      () => '\ud800',
      () => 'turn/start',
      () => [],
      () => [1, 'a'],
      () => ({}),
      () => ({ nested: { deep: [1] } }),
    ])();
  const hex = (digits: number): string => Array.from({ length: digits }, () => '0123456789abcdef'[Math.floor(random() * 16)]).join('');
  const maybe = <T>(value: () => T): T | unknown => (chance(0.85) ? value() : junk());
  const attributes = (): unknown => (chance(0.8) ? Object.fromEntries(Array.from({ length: Math.floor(random() * 6) }, (_, at) => [pick(['tool', 'a.b', 'bad key', `k${at}`, 'prompt', 'output']), maybe(() => pick(['v', 1, true, 2.5]))])) : junk());
  const time = (): unknown => maybe(() => Date.now() - Math.floor(random() * 1e6));

  const record = (): unknown => ({
    name: maybe(() => pick(['codex.tool.call', 'codex.fuzz.a', 'codex.fuzz.b_ms', '9bad', 'codex bad'])),
    kind: maybe(() => pick(['counter', 'histogram', 'gauge'])),
    ...(chance(0.2) ? { values: maybe(() => [1, 2, 3]) } : { value: maybe(() => Math.floor(random() * 100)) }),
    ...(chance(0.6) ? { tags: chance(0.8) ? { tool: pick(['shell', 'read', 'bad value!']) } : junk() } : {}),
    ...(chance(0.2) ? { sessionId: maybe(() => pick(['fuzz-session', 'unknown-session'])) } : {}),
    ...(chance(0.2) ? { time: time() } : {}),
  });
  const event = (): unknown => ({
    sessionId: maybe(() => pick(['fuzz-session', 'fuzz-session', 'unknown-session'])),
    name: maybe(() => pick(['codex.tool_result', 'codex.startup_phase', 'codex.sse_event', 'codex.fuzz'])),
    ...(chance(0.5) ? { traceSafe: attributes() } : {}),
    ...(chance(0.3) ? { logOnly: attributes() } : {}),
    ...(chance(0.3) ? { durationMs: maybe(() => random() * 100) } : {}),
    ...(chance(0.3) ? { time: time() } : {}),
    ...(chance(0.2) ? { traceparent: maybe(() => `00-${hex(32)}-${hex(16)}-0${pick(['0', '1'])}`) } : {}),
  });
  const span = (): unknown => {
    const start = Date.now() - Math.floor(random() * 1e6);
    return {
      traceId: maybe(() => hex(32)),
      spanId: maybe(() => hex(16)),
      ...(chance(0.5) ? { parentSpanId: maybe(() => hex(16)) } : {}),
      name: maybe(() => pick(['turn/start', 'thread/items/list', 'tool call', ''])),
      ...(chance(0.4) ? { kind: maybe(() => pick(['internal', 'server', 'client', 'sideways'])) } : {}),
      startTime: maybe(() => start),
      endTime: maybe(() => start + (chance(0.9) ? random() * 1000 : -5)),
      ...(chance(0.3) ? { status: maybe(() => ({ code: pick(['unset', 'ok', 'error', 'fine']) })) } : {}),
      ...(chance(0.5) ? { attributes: attributes() } : {}),
      ...(chance(0.3) ? { events: maybe(() => [{ name: 'e', time: start, attributes: attributes() }]) } : {}),
      ...(chance(0.2) ? { links: maybe(() => [{ traceId: hex(32), spanId: hex(16) }]) } : {}),
      ...(chance(0.2) ? { flags: maybe(() => pick([0, 1, 256])) } : {}),
      ...(chance(0.2) ? { sessionId: maybe(() => pick(['fuzz-session', 'unknown-session'])) } : {}),
    };
  };
  const batch = (make: () => unknown): unknown[] => Array.from({ length: Math.floor(random() * 20) }, () => (chance(0.95) ? make() : junk()));

  beforeAll(async () => {
    home = createTestHome();
    // Nothing leaves the machine: the embedded file exporter, collected often.
    home.writeConfig('[codexd]\nexport_interval_ms = 200\n');
    daemon = await startDaemonProcess(home);
    peer = await openRawPeer(home.socketPath);
    await peer.initialize('fuzz');
    expect((await peer.request(1, 'session/start', { sessionId: 'fuzz-session', attributes: { model: 'gpt-5.1-codex' } })).result).toMatchObject({ sessionId: 'fuzz-session' });
  });

  afterAll(async () => {
    peer?.destroy();
    await daemon?.stop();
    home?.remove();
  });

  it(`answers ${REQUESTS} random requests without an internal error, and the books balance per signal`, async () => {
    const methods: [string, () => unknown][] = [
      ['metric/record', () => (chance(0.95) ? { records: batch(record) } : junk())],
      ['session/event', () => (chance(0.95) ? { events: batch(event) } : junk())],
      ['trace/span', () => (chance(0.95) ? { spans: batch(span) } : junk())],
      ['no/such/method', () => ({})],
    ];
    // Sent in waves, every answer awaited by id: answers may come in any order.
    const WAVE = 100;
    const answers = new Map<number, Record<string, unknown>>();
    let id = 10;
    for (let sent = 0; sent < REQUESTS; sent += WAVE) {
      const ids: number[] = [];
      for (let at = 0; at < WAVE; at++) {
        const [method, params] = pick(methods);
        const value = params();
        peer.send({ jsonrpc: '2.0', id, method, ...(value === undefined ? {} : { params: value }) });
        ids.push(id++);
      }
      while (ids.some((want) => !answers.has(want))) {
        const frame = await peer.next(10_000);
        if (typeof frame.id === 'number') answers.set(frame.id, frame);
      }
    }
    const internal = [...answers.values()].filter((answer) => (answer.error as { code?: number } | undefined)?.code === ErrorCodes.InternalError);
    expect(internal).toEqual([]);
    expect(answers.size).toBe(REQUESTS);

    const status = await daemon.status();
    const { metrics, logs, traces } = status.signals;
    // Per PROTOCOL.md section 8: what arrived was accepted, rejected, or dropped before acceptance.
    expect(metrics.received).toBe(metrics.accepted + metrics.rejectedTotal);
    for (const lane of [logs, traces]) {
      expect(lane.received).toBe(lane.accepted + lane.rejectedTotal + (lane.dropped.queue_full ?? 0) + (lane.dropped.not_sampled ?? 0));
    }
    expect(metrics.received + logs.received + traces.received).toBeGreaterThan(REQUESTS);
    // The daemon serves on: a well-behaved request right after.
    const after = await peer.request(99_999, 'metric/record', { records: [{ name: 'codex.fuzz.after', kind: 'counter', value: 1 }] });
    expect(after.result).toEqual({ accepted: 1, rejected: [] });
  }, 60_000);
});
