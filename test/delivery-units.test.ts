import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { createExportQueue, type ExportQueue, type ExportQueueOptions } from '../daemon/delivery/export-queue.js';
import { retryInfoDelayMs } from '../daemon/delivery/grpc-sender.js';
import type { Sender, SendOutcome } from '../daemon/delivery/sender.js';
import { openSegmentSpool, type SegmentSpool, type SpooledBatch } from '../daemon/delivery/segment-spool.js';
import { createSignalStats, type SignalStats } from '../daemon/stats.js';
import { createQueuedLogExporter, createQueuedMetricExporter } from '../daemon/delivery/queued-exporters.js';
import type { LaneEntry } from '../daemon/event-lanes.js';
import { journaledEntry, laneEntryOf } from '../daemon/journaled-entry.js';
import { byHostResource } from '../daemon/delivery/queued-exporters.js';
import type { Journal } from '../daemon/delivery/journal.js';
import { journalText, openAcceptingJournal } from './support/journal.js';
import { readJournal } from '../daemon/delivery/journal-read.js';
import { copyOf, createByteBuffer, POOL_KEPT_BYTES, releaseEmptyBuffers, requestScratch, requestWritten } from '../daemon/delivery/byte-buffer.js';
import { createFileSender } from '../daemon/delivery/file-sender.js';
import { serializeLogsJson } from '../daemon/delivery/otlp-json.js';
import { eventBatch } from './support/otlp-records.js';
import { createHostResources, type HostResource, hostMeterVersion } from '../daemon/host-resources.js';
import { type LaneItem, type LogEntry, SCOPE } from '../daemon/lane-records.js';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { Attributes } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';

// The segment format, as segment-spool.ts writes it: "CDXSEG1\n", then per batch a 20-byte
// header ([u32 length][u32 crc32][u32 records][f64 created ms]) and the bytes.
const MAGIC_BYTES = 8;
const ENTRY_HEADER = 20;

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'cdx-delivery-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A batch whose bytes say which it is, padded to `size` bytes. */
function batch(tag: string, records: number, size = 100, createdAt = 1_700_000_000_123.5): SpooledBatch {
  return { bytes: Buffer.from(`batch-${tag}-`.padEnd(size, '.')), records, createdAt };
}

/** Flips one bit of the second batch's payload in the folder's only segment (batches of 100 bytes). */
function damageSecondBatch(dir: string): void {
  const [name] = segmentFiles(dir);
  const path = join(dir, name as string);
  const content = readFileSync(path);
  const at = MAGIC_BYTES + ENTRY_HEADER + 100 + ENTRY_HEADER + 40;
  content[at] = (content[at] as number) ^ 0x01;
  writeFileSync(path, content);
}

function segmentFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.seg'))
    .sort();
}

function bytesOnDisk(dir: string): number {
  return segmentFiles(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

/** A spool in a fresh folder, holding one segment of three batches: a (1 record), b (2), c (3). */
function spoolOfThree(): { dir: string; spool: SegmentSpool } {
  const dir = join(tempDir(), 'metrics');
  const spool = openSegmentSpool(dir, 1 << 20);
  spool.append([batch('a', 1), batch('b', 2), batch('c', 3)]);
  return { dir, spool };
}

const tags = (batches: readonly SpooledBatch[]): string[] => batches.map((one) => one.bytes.toString().replace(/\.+$/, ''));

describe('segment spool', () => {
  it('gives back what was appended, bytes, records and creation time intact', () => {
    const spool = openSegmentSpool(join(tempDir(), 'metrics'), 1 << 20);
    const written = [batch('a', 3, 50, 1_700_000_000_001.25), batch('b', 0, 0, 42), batch('c', 7, 300, 1_800_000_000_000)];
    expect(spool.append(written).dropped).toBe(0);
    const segment = spool.oldest();
    expect(segment).not.toBeNull();
    expect(segment?.batches).toEqual(written);
    expect(segment).toMatchObject({ sent: 0, total: 3, corrupt: 0 });
    expect(statSync(spool.dir).mode & 0o777).toBe(0o700);
  });

  it('replays the oldest segment first', () => {
    const spool = openSegmentSpool(join(tempDir(), 'metrics'), 1 << 20);
    spool.append([batch('a', 1), batch('b', 1)]);
    spool.append([batch('c', 1)]);
    spool.append([batch('d', 1), batch('e', 1)]);
    expect(spool.segments()).toBe(3);
    const seen: string[] = [];
    for (let segment = spool.oldest(); segment !== null; segment = spool.oldest()) {
      seen.push(...tags(segment.batches));
      spool.markSent(segment.name, segment.total, segment.total);
    }
    expect(seen).toEqual(['batch-a-', 'batch-b-', 'batch-c-', 'batch-d-', 'batch-e-']);
    expect(spool.segments()).toBe(0);
    expect(spool.bytes()).toBe(0);
  });

  it('keeps replay progress across a reopen, and removes a segment and its progress once all is sent', () => {
    const { dir, spool } = spoolOfThree();
    const first = spool.oldest();
    if (first === null) throw new Error('no segment');
    spool.markSent(first.name, 1, first.total);
    spool.markSent(first.name, 2, first.total);
    // The count is written over itself, padded to 16 bytes.
    expect(readFileSync(join(dir, `${first.name}.sent`), 'utf8')).toBe('2'.padEnd(16));

    const reopened = openSegmentSpool(dir, 1 << 20);
    const again = reopened.oldest();
    expect(again).toMatchObject({ name: first.name, sent: 2, total: 3, corrupt: 0 });
    expect(tags(again?.batches ?? [])).toEqual(['batch-c-']);
    // A count an earlier version wrote unpadded is read alike, and a shorter one written over a longer one leaves none of its digits.
    writeFileSync(join(dir, `${first.name}.sent`), '12');
    reopened.markSent(first.name, 2, 3);
    expect(readFileSync(join(dir, `${first.name}.sent`), 'utf8')).toBe('2'.padEnd(16));
    expect(openSegmentSpool(dir, 1 << 20).oldest()).toMatchObject({ sent: 2 });

    reopened.markSent(first.name, 3, 3);
    expect(readdirSync(dir)).toEqual([]);
    expect(reopened.oldest()).toBeNull();
    expect(openSegmentSpool(dir, 1 << 20).oldest()).toBeNull();
  });

  it('holds no progress file open once closed, and still notes what a late send settles', () => {
    const { dir, spool } = spoolOfThree();
    const segment = spool.oldest();
    if (segment === null) throw new Error('no segment');
    const progressOpen = (): boolean => readdirSync('/proc/self/fd').some((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === join(dir, `${segment.name}.sent`);
      } catch {
        return false;
      }
    });
    spool.markSent(segment.name, 1, segment.total);
    expect(progressOpen()).toBe(true);
    spool.close();
    expect(progressOpen()).toBe(false);
    // A send that was on the wire when the queue stopped ends: its progress is written, nothing kept open.
    spool.markSent(segment.name, 2, segment.total);
    expect(progressOpen()).toBe(false);
    expect(readFileSync(join(dir, `${segment.name}.sent`), 'utf8')).toBe('2'.padEnd(16));
  });

  it('skips and counts a batch whose bytes were damaged, and returns the others', () => {
    const { dir, spool } = spoolOfThree();
    damageSecondBatch(dir);
    const segment = spool.oldest();
    expect(tags(segment?.batches ?? [])).toEqual(['batch-a-', 'batch-c-']);
    expect(segment).toMatchObject({ corrupt: 1, total: 2, sent: 0 });
  });

  it('returns the whole batches before a cut in the middle of a batch, and counts the damage', () => {
    const { dir } = spoolOfThree();
    const [name] = segmentFiles(dir);
    const path = join(dir, name as string);
    // Cut inside the third batch's bytes.
    writeFileSync(path, readFileSync(path).subarray(0, MAGIC_BYTES + 2 * (ENTRY_HEADER + 100) + ENTRY_HEADER + 10));
    const segment = openSegmentSpool(dir, 1 << 20).oldest();
    expect(tags(segment?.batches ?? [])).toEqual(['batch-a-', 'batch-b-']);
    expect(segment?.corrupt).toBe(1);
  });

  it('treats a file that is not a segment as damaged, and lets it be removed', () => {
    const dir = join(tempDir(), 'metrics');
    const spool = openSegmentSpool(dir, 1 << 20);
    writeFileSync(join(dir, '000000000000001-000000.seg'), 'not a segment');
    const segment = spool.oldest();
    expect(segment).toMatchObject({ batches: [], corrupt: 1, total: 0 });
    spool.markSent(segment?.name as string, 0, 0);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('drops the oldest segments past its byte bound and says how many records they held', () => {
    const dir = join(tempDir(), 'metrics');
    // One batch of 100 bytes makes a segment of 128 bytes: two fit in 300, three do not.
    const spool = openSegmentSpool(dir, 300);
    expect(spool.append([batch('a', 5)]).dropped).toBe(0);
    expect(spool.append([batch('b', 6)]).dropped).toBe(0);
    expect(spool.bytes()).toBe(256);
    expect(spool.append([batch('c', 7)]).dropped).toBe(5);
    expect(spool.segments()).toBe(2);
    expect(spool.bytes()).toBe(256);
    expect(tags(spool.oldest()?.batches ?? [])).toEqual(['batch-b-']);
  });

  it('counts only the unsent records of a partly replayed segment the bound drops', () => {
    const dir = join(tempDir(), 'metrics');
    // Two batches: 8 + 2 * 120 = 248 bytes.
    const spool = openSegmentSpool(dir, 300);
    spool.append([batch('a', 5), batch('b', 6)]);
    const segment = spool.oldest();
    spool.markSent(segment?.name as string, 1, 2);
    expect(spool.append([batch('c', 7)]).dropped).toBe(6);
    expect(readdirSync(dir).filter((name) => name.endsWith('.sent'))).toEqual([]);
  });

  it('drops the oldest batches of one append larger than the bound', () => {
    const dir = join(tempDir(), 'metrics');
    const spool = openSegmentSpool(dir, 300);
    expect(spool.append([batch('old', 9)]).dropped).toBe(0);
    // Five batches of 100 bytes: only the newest two fit (8 + 2 * 120 = 248), and the segment
    // already there goes too.
    expect(spool.append([batch('a', 1), batch('b', 2), batch('c', 3), batch('d', 4), batch('e', 5)]).dropped).toBe(9 + 1 + 2 + 3);
    expect(spool.segments()).toBe(1);
    expect(spool.bytes()).toBe(248);
    expect(tags(spool.oldest()?.batches ?? [])).toEqual(['batch-d-', 'batch-e-']);
    // A single batch that can never fit is dropped, and nothing is written.
    expect(spool.append([batch('huge', 4, 400)]).dropped).toBe(4);
    expect(spool.segments()).toBe(1);
  });

  it('removes the temporary files of an interrupted write when it opens', () => {
    const dir = join(tempDir(), 'metrics');
    const spool = openSegmentSpool(dir, 1 << 20);
    spool.append([batch('a', 1)]);
    writeFileSync(join(dir, '000000000000009-000001.seg.tmp'), 'CDXSEG1\nhalf');
    writeFileSync(join(dir, '000000000000001-000000.seg.sent.tmp'), '1');
    const reopened = openSegmentSpool(dir, 1 << 20);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect(reopened.segments()).toBe(1);
    expect(reopened.bytes()).toBe(spool.bytes());
  });

  it('tracks its bytes and segments as they are on disk', () => {
    const dir = join(tempDir(), 'metrics');
    const spool = openSegmentSpool(dir, 1 << 20);
    expect([spool.bytes(), spool.segments()]).toEqual([0, 0]);
    spool.append([batch('a', 1), batch('b', 1, 33)]);
    spool.append([batch('c', 1, 7)]);
    expect(spool.segments()).toBe(2);
    expect(spool.bytes()).toBe(bytesOnDisk(dir));
    const oldest = spool.oldest();
    spool.markSent(oldest?.name as string, 1, 2);
    expect(spool.bytes()).toBe(bytesOnDisk(dir));
    spool.markSent(oldest?.name as string, 2, 2);
    expect(spool.segments()).toBe(1);
    expect(spool.bytes()).toBe(bytesOnDisk(dir));
    expect(openSegmentSpool(dir, 1 << 20).bytes()).toBe(spool.bytes());
  });
});

// A protobuf encoder just big enough for google.rpc.Status.
function varint(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return out;
}
const varintField = (field: number, value: number): number[] => [...varint(field * 8), ...varint(value)];
function bytesField(field: number, value: number[] | string): number[] {
  const bytes = typeof value === 'string' ? [...Buffer.from(value)] : value;
  return [...varint(field * 8 + 2), ...varint(bytes.length), ...bytes];
}
const any = (typeUrl: string, value: number[]): number[] => [...bytesField(1, typeUrl), ...bytesField(2, value)];
const retryInfo = (seconds: number, nanos: number): number[] => bytesField(1, [...varintField(1, seconds), ...varintField(2, nanos)]);
const status = (code: number, message: string, details: number[][]): Uint8Array =>
  Uint8Array.from([...varintField(1, code), ...bytesField(2, message), ...details.flatMap((detail) => bytesField(3, detail))]);

describe('RetryInfo in grpc-status-details-bin', () => {
  it('reads the delay of a RetryInfo detail, in milliseconds', () => {
    expect(retryInfoDelayMs(status(8, 'slow down', [any('type.googleapis.com/google.rpc.RetryInfo', retryInfo(2, 500_000_000))]))).toBe(2500);
    expect(retryInfoDelayMs(status(8, 'later', [any('type.googleapis.com/google.rpc.RetryInfo', retryInfo(90, 0))]))).toBe(90_000);
    // After a detail of another type.
    const errorInfo = any('type.googleapis.com/google.rpc.ErrorInfo', bytesField(1, 'QUOTA'));
    expect(retryInfoDelayMs(status(8, 'quota', [errorInfo, any('type.googleapis.com/google.rpc.RetryInfo', retryInfo(0, 250_000_000))]))).toBe(250);
    // A Buffer, as grpc-js hands trailers over.
    expect(retryInfoDelayMs(Buffer.from(status(14, '', [any('type.googleapis.com/google.rpc.RetryInfo', retryInfo(1, 0))])))).toBe(1000);
  });

  it('is null without a RetryInfo detail', () => {
    expect(retryInfoDelayMs(status(8, 'quota', [any('type.googleapis.com/google.rpc.ErrorInfo', bytesField(1, 'QUOTA'))]))).toBeNull();
    expect(retryInfoDelayMs(status(8, 'no details', []))).toBeNull();
    expect(retryInfoDelayMs(undefined)).toBeNull();
    expect(retryInfoDelayMs(new Uint8Array())).toBeNull();
  });

  it('is null, and does not throw, for bytes that are not a Status', () => {
    const garbage = [
      Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
      Uint8Array.from([0x1a, 0xff, 0xff, 0xff, 0xff, 0x0f]),
      Uint8Array.from([0x1b, 0x01, 0x02]),
      Buffer.from('definitely not protobuf'),
      Uint8Array.from(Array.from({ length: 257 }, (_, index) => (index * 37 + 11) % 256)),
    ];
    for (const bytes of garbage) expect(retryInfoDelayMs(bytes)).toBeNull();
  });
});

/** A sender that records what it got and answers as the test says. */
interface FakeSender extends Sender {
  readonly got: string[];
  readonly at: number[];
  /** Answers each send; the default says ok. */
  answer: (bytes: string) => SendOutcome | Promise<SendOutcome>;
}

function fakeSender(): FakeSender {
  const sender: FakeSender = {
    got: [],
    at: [],
    answer: () => ({ kind: 'ok' }),
    send(bytes) {
      const text = Buffer.from(bytes).toString();
      sender.got.push(text);
      sender.at.push(Date.now());
      return Promise.resolve(sender.answer(text));
    },
    close() {},
  };
  return sender;
}

const OK: SendOutcome = { kind: 'ok' };
const retryable = (retryAfterMs: number | null = null): SendOutcome => ({ kind: 'retryable', message: 'UNAVAILABLE: collector down', retryAfterMs });
const PERMANENT: SendOutcome = { kind: 'permanent', message: 'INVALID_ARGUMENT: bad request' };
const never = (): Promise<SendOutcome> => new Promise(() => undefined);

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

interface Harness {
  readonly queue: ExportQueue;
  readonly sender: FakeSender;
  readonly stats: SignalStats;
  readonly spool: SegmentSpool;
  readonly errors: string[];
  /** Accepts `records` records and enqueues them as one batch of `size` bytes named `tag`. */
  readonly put: (tag: string, records: number, size?: number) => void;
}

function harness(options: Partial<ExportQueueOptions> & { dir?: string; sender?: FakeSender } = {}): Harness {
  const sender = options.sender ?? fakeSender();
  const stats = options.stats ?? createSignalStats();
  const spool = (options.spool as SegmentSpool | undefined) ?? openSegmentSpool(options.dir ?? join(tempDir(), 'metrics'), 1 << 20);
  const errors: string[] = [];
  const queue = createExportQueue({
    signal: 'metrics',
    maxMemoryBytes: 1 << 20,
    retry: { initialMs: 10, maxMs: 20 },
    sendTimeoutMs: 10_000,
    onError: (message) => errors.push(message),
    ...options,
    sender,
    stats,
    spool,
  });
  const put = (tag: string, records: number, size = 100): void => {
    stats.accepted(records);
    queue.enqueue(batch(tag, records, size).bytes, records);
  };
  return { queue, sender, stats, spool, errors, put };
}

const sentTags = (sender: FakeSender): string[] => sender.got.map((text) => text.replace(/\.+$/, ''));

const HOSTS = createHostResources({ environment: 'test', env: {}, onError: () => undefined });

/** The text of a journal folder's files, their frames decoded, oldest first. */

describe('journaled lane entries', () => {
  it('write only how the span differs from the log record, and read back the same entry', () => {
    const entry: LaneEntry = {
      name: 'codex.tool_result',
      timeMs: 1_700_000_000_000,
      durationMs: 42,
      logAttributes: { 'session.id': 's-1', model: 'gpt-5.1', 'user.email': 'ada@example.com', output: '[REDACTED]', n: 3, ok: true },
      spanAttributes: { 'deployment.team': 'dev-tools', 'session.id': 's-1', model: 'gpt-5.1', n: 3, ok: true, output: 'kept on the span in this case' },
      parent: null,
      tracestate: 'congo=alpha:one',
      resource: HOSTS.forHost({ name: 'codex_exec', version: '0.169.0' }),
    };
    const { journaled, context } = journaledEntry(entry);
    expect(context).toBeUndefined();
    // The resource goes by id on the journal line, not in the entry.
    expect(journaled).not.toHaveProperty('resource');
    expect(journaled).not.toHaveProperty('spanAttributes');
    expect(journaled.spanOmits).toEqual(['user.email']);
    expect(journaled.spanOwn).toEqual({ 'deployment.team': 'dev-tools', output: 'kept on the span in this case' });
    expect(JSON.stringify(journaled).length).toBeLessThan(JSON.stringify(entry).length);
    expect(laneEntryOf(JSON.parse(JSON.stringify(journaled)) as typeof journaled, entry.resource)).toEqual(entry);
    // An entry an earlier version journaled whole is taken as it is.
    const { resource: _, ...whole } = entry;
    expect(laneEntryOf(JSON.parse(JSON.stringify(whole)) as typeof journaled, entry.resource)).toEqual(entry);
  });

  it('leave out what the session context holds, and read back the same attributes in the same order', () => {
    const context = { 'conversation.id': 'c-1', model: 'gpt-5.1', 'user.email': 'ada@example.com' };
    const entry: LaneEntry = {
      name: 'codex.api_request',
      timeMs: 1_700_000_000_000,
      durationMs: 800,
      // The log record's attributes after the session's context, which leads them; the span written whole.
      logAttributes: { attempt: 1, 'session.id': 's-1' },
      spanAttributes: { 'conversation.id': 'c-1', model: 'gpt-5.1', attempt: 1, 'session.id': 's-1' },
      parent: null,
      tracestate: null,
      resource: HOSTS.forHost({ name: 'codex_exec', version: '0.169.0' }),
      context,
    };
    const written = journaledEntry(entry);
    expect(written.context).toBe(context);
    expect(written.journaled.logAttributes).toEqual({ attempt: 1, 'session.id': 's-1' });
    const back = laneEntryOf(JSON.parse(JSON.stringify(written.journaled)) as typeof written.journaled, entry.resource, JSON.parse(JSON.stringify(context)));
    // Read back whole, without a lead: the context's keys first, in its order.
    expect(Object.keys(back.logAttributes)).toEqual(['conversation.id', 'model', 'user.email', 'attempt', 'session.id']);
    expect(back.logAttributes).toEqual({ ...context, ...entry.logAttributes });
    expect(Object.keys(back.spanAttributes)).toEqual(Object.keys(entry.spanAttributes));
    expect(back.spanAttributes).toEqual(entry.spanAttributes);
    expect(back.context).toBeUndefined();
  });
});

describe('journaled lane entries led by the session context', () => {
  const context = { 'conversation.id': 'c-1', model: 'gpt-5.1', 'user.email': 'ada@example.com', 'app.version': '0.169.0' };
  const spanContext = { 'conversation.id': 'c-1', model: 'gpt-5.1', 'app.version': '0.169.0' };
  const resource = HOSTS.forHost({ name: 'codex_exec', version: '0.169.0' });
  const entry = (logAttributes: Attributes, spanAttributes: Attributes, leads: Pick<LaneEntry, 'context' | 'spanContext'> = { context, spanContext }): LaneEntry => ({ name: 'codex.api_request', timeMs: 1_700_000_000_000, durationMs: 800, logAttributes, spanAttributes, parent: null, tracestate: null, resource, ...leads });
  const own = { attempt: 1, 'session.id': 's-1', 'event.timestamp': '2023-11-14T22:13:20.000Z' };
  // As the ingest makes them, with and without the span's lead.
  const cases: [string, LaneEntry][] = [
    ['both lanes led by it', entry({ ...own, prompt: '[REDACTED]' }, { ...own })],
    ['the span stamps its own time', entry({ ...own }, { ...own, 'event.timestamp': 'host' })],
    ['span attributes configured ahead of the context', entry({ ...own }, { 'deployment.team': 'dev-tools', ...spanContext, ...own }, { context, spanContext: undefined })],
    ['a span without the context', entry({ ...own }, { ...own }, { context, spanContext: undefined })],
    ["a view whose values are not the context's", entry({ ...own }, { ...own }, { context, spanContext: { ...spanContext, model: 'other' } })],
  ];

  it.each(cases)('writes (%s) what it writes of the span written whole, and reads back the same attributes', (_, given) => {
    const led = journaledEntry(given);
    const whole = journaledEntry({ ...given, spanAttributes: { ...given.spanContext, ...given.spanAttributes }, spanContext: undefined });
    // Byte for byte, keys in the same order.
    expect(JSON.stringify(led)).toBe(JSON.stringify(whole));
    expect(led.context).toBe(context);
    const back = laneEntryOf(JSON.parse(JSON.stringify(led.journaled)) as typeof led.journaled, resource, led.context);
    expect(JSON.stringify(back.logAttributes)).toBe(JSON.stringify({ ...context, ...given.logAttributes }));
    // A span whose keys are not in the log's order comes back with its own keys last (as it did).
    expect(back.spanAttributes).toEqual({ ...given.spanContext, ...given.spanAttributes });
  });
});

describe('host resources', () => {
  it('gives each host its own resource, clientInfo when it names none, and codexd only as the distribution', () => {
    const hosts = createHostResources({ environment: 'prod', env: { OTEL_RESOURCE_ATTRIBUTES: 'team=tools,service.name=ignored-for-hosts', OTEL_SERVICE_NAME: 'codexd-laptop' }, onError: () => undefined });
    const exec = hosts.forHost({ name: 'codex-exec', version: '1.0.0' }, { 'service.name': 'codex_exec', 'service.version': '0.169.0', os: 'linux', env: 'prod' });
    const tui = hosts.forHost({ name: 'codex-tui', version: '0.169.0' });
    expect(exec.attributes).toMatchObject({ 'service.name': 'codex_exec', 'service.version': '0.169.0', os: 'linux', env: 'prod', team: 'tools', 'deployment.environment.name': 'prod', 'telemetry.distro.name': 'codexd' });
    expect(tui.attributes).toMatchObject({ 'service.name': 'codex-tui', 'service.version': '0.169.0', team: 'tools' });
    expect(hosts.own.attributes['service.name']).toBe('codexd-laptop');
    // The same host again is the same resource object (the serialisers group by identity).
    expect(hosts.forHost({ name: 'codex-tui', version: '0.169.0' })).toBe(tui);
    expect(new Set([hosts.own.id, exec.id, tui.id]).size).toBe(3);
    expect(hosts.byId(exec.id)).toBe(exec);
  });

  it('ignores a malformed OTEL_RESOURCE_ATTRIBUTES whole and says why', () => {
    const problems: string[] = [];
    const hosts = createHostResources({ environment: 'dev', env: { OTEL_RESOURCE_ATTRIBUTES: 'team=tools,broken' }, onError: (message) => problems.push(message) });
    expect(hosts.own.attributes).not.toHaveProperty('team');
    expect(problems).toEqual([expect.stringContaining('OTEL_RESOURCE_ATTRIBUTES: "broken" is not key=value')]);
  });

  it('exports one request per host, each under its resource, in scope codex without the meter version, the records shared out exactly', async () => {
    const hosts = createHostResources({ environment: 'dev', env: {}, onError: () => undefined });
    const a = hosts.forHost({ name: 'a', version: '1' });
    const b = hosts.forHost({ name: 'b', version: '1' });
    class Reader extends MetricReader {
      protected override onForceFlush = (): Promise<void> => Promise.resolve();
      protected override onShutdown = (): Promise<void> => Promise.resolve();
    }
    const reader = new Reader();
    const provider = new MeterProvider({ resource: hosts.own.resource, readers: [reader] });
    // As the metrics pipeline records: each host on a meter of its own, the daemon on plain `codex`.
    provider.getMeter('codex', hostMeterVersion(a.id)).createCounter('codex.tool.call').add(1, { tool: 'shell' });
    provider.getMeter('codex', hostMeterVersion(b.id)).createCounter('codex.tool.call').add(2, { tool: 'shell' });
    provider.getMeter('codex').createCounter('codex.tool.call').add(4, { tool: 'shell' });
    const { resourceMetrics } = await reader.collect();
    const parts = byHostResource(resourceMetrics, 7, (id) => hosts.byId(id)?.resource);
    expect(parts.map(([part]) => part.resource)).toEqual(expect.arrayContaining([a.resource, b.resource, hosts.own.resource]));
    expect(parts.reduce((sum, [, records]) => sum + records, 0)).toBe(7);
    for (const [part] of parts) {
      expect(part.scopeMetrics.map((scope) => [scope.scope.name, scope.scope.version ?? ''])).toEqual([['codex', '']]);
      const points = part.scopeMetrics.flatMap((scope) => scope.metrics.flatMap((metric) => metric.dataPoints as { attributes: object; value: unknown }[]));
      expect(points).toHaveLength(1);
      expect(points[0]?.attributes).toEqual({ tool: 'shell' });
      const expected = part.resource === a.resource ? 1 : part.resource === b.resource ? 2 : 4;
      expect(points[0]?.value).toBe(expected);
    }
  });

  it('journals a resource once per file, before the first line that names it, and reads it back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'codexd-journal-'));
    try {
      const { journal } = openAcceptingJournal({ dir, settled: () => 0, maxBytes: 1 << 30, onPressure: () => undefined, onError: (message) => expect.fail(message) });
      const hosts = createHostResources({ environment: 'dev', env: {}, onError: () => undefined });
      const exec = hosts.forHost({ name: 'codex_exec', version: '0.169.0' });
      journal.append({ m: [{ name: 'codex.a', kind: 'counter', value: 1 }] }, exec);
      journal.append({ m: [{ name: 'codex.b', kind: 'counter', value: 1 }] }, exec);
      journal.append({ m: [{ name: 'codex.c', kind: 'counter', value: 1 }] }, hosts.own);
      journal.sync();
      const text = journalText(dir);
      expect(text.match(/"d":/g)).toHaveLength(1);
      const read = readJournal(dir);
      expect(read.lines.map((line) => line.r)).toEqual([exec.id, exec.id, undefined]);
      expect(read.resources.get(exec.id)).toEqual(exec.attributes);
      // A session context, the same: declared once a file, named by id on each event line.
      const context = { model: 'gpt-5.1', 'conversation.id': 'c-1' };
      const line = (n: number) => ({ e: [{ name: 'codex.turn_ttft', timeMs: n, durationMs: n, logAttributes: { n } }, { log: true, span: false }] });
      journal.append(line(1), exec, context);
      journal.append(line(2), hosts.own, context);
      journal.sync();
      const again = readJournal(dir);
      const events = again.lines.filter((one) => 'e' in one);
      expect(events.map((one) => [one.r, one.c])).toEqual([
        [exec.id, expect.any(Number)],
        [undefined, events[0]?.c],
      ]);
      expect(again.contexts.get(events[0]?.c as number)).toEqual(context);
      const all = journalText(dir);
      expect(all.match(/"cd":/g)).toHaveLength(1);
      journal.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /**
   * A journal in a folder of its own whose log records and spans have settled as far as
   * `settled` says (its accepted counts are not read here), and a host's resource; the folder
   * goes once `use` is done.
   */
  async function withSettlingJournal(use: (parts: { journal: Journal; settled: { logs: number; traces: number }; exec: HostResource; own: HostResource; dir: string }) => Promise<void>): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), 'codexd-journal-'));
    try {
      const settled = { logs: 0, traces: 0 };
      const { journal } = openAcceptingJournal({ dir, settled: (signal) => (signal === 'metrics' ? 0 : settled[signal]), maxBytes: 1 << 30, onPressure: () => undefined, onError: (message) => expect.fail(message) });
      journal.start();
      const hosts = createHostResources({ environment: 'dev', env: {}, onError: () => undefined });
      await use({ journal, settled, exec: hosts.forHost({ name: 'codex_exec', version: '0.169.0' }), own: hosts.own, dir });
      journal.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('writes the event lines of one turn under one resource and context as one line, and replays each past the settled count', () =>
    withSettlingJournal(async ({ journal, settled, exec, own, dir }) => {
      const context = { model: 'gpt-5.1' };
      const line = (n: number, span = true) => ({ e: [{ name: 'codex.sse_event', timeMs: n, durationMs: n, logAttributes: { n } }, { log: true, span }] });
      // One ingest's events: three under the context, then one of another host, then a metric record.
      journal.append(line(1), exec, context);
      journal.append(line(2, false), exec, context);
      journal.append(line(3), exec, context);
      journal.append(line(4), own, context);
      journal.append({ m: [{ name: 'codex.a', kind: 'counter', value: 1 }] });
      // Then, in a later turn, two more events.
      await Promise.resolve();
      journal.append(line(5), exec, context);
      journal.append(line(6), exec, context);
      await Promise.resolve();
      journal.sync();
      const text = journalText(dir);
      expect(text.match(/"E":/g)).toHaveLength(3);
      expect(text).not.toMatch(/"e":/);
      // Two log records and one span settled: event 3 still owes its log record, and its span.
      settled.logs = 2;
      settled.traces = 1;
      journal.noteSettled();
      const events = readJournal(dir).lines.filter((one) => 'e' in one);
      expect(events.map((one) => [(one.e[0] as { timeMs: number }).timeMs, one.e[1], one.r, one.c === undefined])).toEqual([
        [3, { log: true, span: true }, exec.id, false],
        [4, { log: true, span: true }, undefined, false],
        [5, { log: true, span: true }, exec.id, false],
        [6, { log: true, span: true }, exec.id, false],
      ]);
    }));

  it('writes a batch of host spans, and of log records, as one line each, and replays each past the settled count', () =>
    withSettlingJournal(async ({ journal, settled, exec, dir }) => {
      for (const name of ['turn', 'tool', 'model']) journal.append({ s: { name } }, exec);
      for (const body of ['a', 'b']) journal.append({ l: { body } }, exec);
      journal.append({ s: { name: 'own' } });
      await Promise.resolve();
      journal.sync();
      const text = journalText(dir);
      expect([text.match(/"S":/g)?.length, text.match(/"L":/g)?.length, /"[sl]":/.test(text)]).toEqual([2, 1, false]);
      settled.traces = 1;
      settled.logs = 1;
      journal.noteSettled();
      expect(readJournal(dir).lines).toEqual([{ s: { name: 'tool' }, r: exec.id }, { s: { name: 'model' }, r: exec.id }, { l: { body: 'b' }, r: exec.id }, { s: { name: 'own' } }]);
    }));
});

describe('export requests', () => {
  /** A route whose queue keeps what it is handed. */
  function capture(maxRequestBytes: number): { route: Parameters<typeof createQueuedMetricExporter>[0]; requests: { text: string; records: number }[] } {
    const requests: { text: string; records: number }[] = [];
    const queue = { enqueue: (bytes: Uint8Array, records: number) => void requests.push({ text: Buffer.from(bytes).toString('utf8'), records }) } as unknown as ExportQueue;
    return { route: { queue, format: 'json', maxRequestBytes, disabled: () => undefined }, requests };
  }

  it('cuts a metrics export bigger than the request bound by data point, each series once, the records shared out exactly', async () => {
    class Reader extends MetricReader {
      protected override onForceFlush = (): Promise<void> => Promise.resolve();
      protected override onShutdown = (): Promise<void> => Promise.resolve();
    }
    const reader = new Reader();
    const provider = new MeterProvider({ readers: [reader] });
    const calls = provider.getMeter('codex').createCounter('codex.test.calls');
    const latency = provider.getMeter('codex').createHistogram('codex.test.latency_ms');
    for (let series = 0; series < 1500; series++) {
      calls.add(2, { series: `${series}:${'s'.repeat(200)}` });
      latency.record(series, { series: `${series}:${'s'.repeat(200)}` });
    }
    const { resourceMetrics } = await reader.collect();
    const { route, requests } = capture(100_000);
    const result = await new Promise<number>((resolve) => createQueuedMetricExporter(route, () => undefined).exportCounted(resourceMetrics, 4999, [], (outcome) => resolve(outcome.code)));
    expect(result).toBe(ExportResultCode.SUCCESS);
    expect(requests.length).toBeGreaterThan(5);
    for (const request of requests) expect(request.text.length).toBeLessThanOrEqual(100_000);
    expect(requests.reduce((sum, request) => sum + request.records, 0)).toBe(4999);
    const seen = new Map<string, number>();
    for (const request of requests) {
      const body = JSON.parse(request.text) as { resourceMetrics: { scopeMetrics: { metrics: { name: string; sum?: { dataPoints: { attributes: { value: { stringValue: string } }[] }[] }; histogram?: { dataPoints: { attributes: { value: { stringValue: string } }[] }[] } }[] }[] }[] };
      for (const metric of body.resourceMetrics[0]?.scopeMetrics[0]?.metrics ?? []) {
        for (const point of (metric.sum ?? metric.histogram)?.dataPoints ?? []) {
          const key = `${metric.name} ${point.attributes[0]?.value.stringValue ?? ''}`;
          seen.set(key, (seen.get(key) ?? 0) + 1);
        }
      }
    }
    expect(seen.size).toBe(3000);
    expect([...seen.values()].every((count) => count === 1)).toBe(true);
  });

  it('leaves a batch under the bound whole, and sends a single record over it alone', async () => {
    const { route, requests } = capture(2_000);
    const resource = resourceFromAttributes({});
    const log = (text: string): LaneItem<LogEntry> => ({ entry: { timeMs: 1, observedMs: 1, severityNumber: 9, body: text, attributes: {}, scope: SCOPE }, resource });
    const exporter = createQueuedLogExporter(route);
    const done = (batch: LaneItem<LogEntry>[]): Promise<number> => new Promise((resolve) => exporter.export(batch, (outcome) => resolve(outcome.code)));
    expect(await done([log('a'), log('b')])).toBe(ExportResultCode.SUCCESS);
    expect(requests.map((request) => request.records)).toEqual([2]);
    expect(await done([log('c'), log('x'.repeat(5_000)), log('d')])).toBe(ExportResultCode.SUCCESS);
    expect(requests.slice(1).map((request) => request.records)).toEqual([1, 1, 1]);
    expect(requests.slice(1).map((request) => request.text.length > 2_000)).toEqual([false, true, false]);
  });
});

describe('export queue', () => {
  it('sends through a new sender at once after a swap: the backlog, and the batch whose send failed on the old one', async () => {
    const old = fakeSender();
    let fail: (outcome: SendOutcome) => void = () => undefined;
    old.answer = (text) => (text.startsWith('batch-a-') ? new Promise<SendOutcome>((resolve) => (fail = resolve)) : retryable());
    // A long backoff on the old sender: the new one must not wait for it.
    const { queue, stats, put } = harness({ sender: old, retry: { initialMs: 60_000, maxMs: 60_000 } });
    put('a', 1);
    put('b', 2);
    await waitFor(() => old.got.length === 1);
    const fresh = fakeSender();
    let swapped = false;
    const swap = queue.setSender(fresh, 1000).then(() => (swapped = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The old sender is still in use while its send is on the wire.
    expect(swapped).toBe(false);
    fail(retryable(60_000));
    await swap;
    await waitFor(() => fresh.got.length === 2);
    expect(sentTags(fresh)).toEqual(['batch-a-', 'batch-b-']);
    expect(sentTags(old)).toEqual(['batch-a-']);
    expect(stats.snapshot()).toMatchObject({ exported: 3, buffered: 0, failed: 0 });
    expect(queue.status()).toMatchObject({ failures: 0, memoryBatches: 0 });
  });

  it('moves what waits in memory to disk once sends have been failing a while, and sends it from there in order', async () => {
    const sender = fakeSender();
    sender.answer = () => retryable(null);
    const { queue, stats, put } = harness({ sender, spillAfterFailingMs: 50 });
    put('a', 1);
    put('b', 2);
    await waitFor(() => queue.status().failures >= 1);
    await new Promise((resolve) => setTimeout(resolve, 80));
    await waitFor(() => queue.status().memoryBatches === 0);
    expect(stats.snapshot().spooled).toBe(3);
    expect(queue.status().spooledSegments).toBe(1);
    sender.answer = () => OK;
    expect(await queue.flush(1000)).toBe(true);
    expect(sentTags(sender).slice(-2)).toEqual(['batch-a-', 'batch-b-']);
    expect(queue.status().replayed.exported).toBe(3);
  });


  it('sends batches in the order they came and counts them exported', async () => {
    const { queue, sender, stats, put } = harness();
    put('a', 1);
    put('b', 2);
    put('c', 3);
    await waitFor(() => sender.got.length === 3);
    await waitFor(() => !queue.pending());
    expect(sentTags(sender)).toEqual(['batch-a-', 'batch-b-', 'batch-c-']);
    expect(stats.snapshot()).toMatchObject({ accepted: 6, exported: 6, buffered: 0, failed: 0, spooled: 0 });
    expect(queue.status()).toMatchObject({ memoryBatches: 0, memoryBytes: 0, failures: 0, lastError: null });
  });

  it('holds a batch that failed for now, retries it after the backoff, and keeps the order', async () => {
    const { queue, sender, stats, put } = harness();
    let failuresLeft = 2;
    sender.answer = () => (failuresLeft-- > 0 ? retryable() : OK);
    put('a', 1);
    put('b', 2);
    await waitFor(() => sender.got.length >= 1);
    await waitFor(() => queue.status().failures >= 1);
    expect(stats.buffered()).toBe(3);
    expect(queue.status().lastError?.message).toBe('UNAVAILABLE: collector down');
    expect(queue.status().nextAttemptAt).not.toBeNull();
    await waitFor(() => !queue.pending());
    expect(sentTags(sender)).toEqual(['batch-a-', 'batch-a-', 'batch-a-', 'batch-b-']);
    // Backoff: 10 ms then 20 ms, each with jitter of ±50% (a timer may fire a millisecond early).
    expect((sender.at[1] as number) - (sender.at[0] as number)).toBeGreaterThanOrEqual(4);
    expect((sender.at[2] as number) - (sender.at[1] as number)).toBeGreaterThanOrEqual(9);
    expect(stats.snapshot()).toMatchObject({ exported: 3, buffered: 0, failed: 0 });
    expect(queue.status()).toMatchObject({ failures: 0, nextAttemptAt: null });
  });

  it('waits at least as long as the collector asked (Retry-After / RetryInfo)', async () => {
    const { queue, sender, put } = harness();
    let failed = false;
    sender.answer = () => {
      if (failed) return OK;
      failed = true;
      return retryable(80);
    };
    put('a', 1);
    await waitFor(() => !queue.pending());
    expect(sender.got).toHaveLength(2);
    expect((sender.at[1] as number) - (sender.at[0] as number)).toBeGreaterThanOrEqual(79);
  });

  it('drops a batch the collector refuses for good and goes on with the next', async () => {
    const { queue, sender, stats, errors, put } = harness();
    sender.answer = (text) => (text.startsWith('batch-a-') ? PERMANENT : OK);
    put('a', 2);
    put('b', 3);
    await waitFor(() => !queue.pending());
    expect(sentTags(sender)).toEqual(['batch-a-', 'batch-b-']);
    expect(stats.snapshot()).toMatchObject({ accepted: 5, exported: 3, failed: 2, buffered: 0, dropped: { export_rejected: 2 } });
    expect(queue.status()).toMatchObject({ failures: 0, lastError: { message: 'INVALID_ARGUMENT: bad request' } });
    expect(errors.some((message) => message.includes('2 records dropped'))).toBe(true);
  });

  it('spills the oldest batches to disk past its memory bound and sends them first', async () => {
    // 250 bytes of memory: the third batch of 100 bytes passes it, and the queue spills down to 125.
    const { queue, sender, stats, spool, put } = harness({ maxMemoryBytes: 250 });
    sender.answer = () => retryable(60_000);
    put('a', 1);
    await waitFor(() => queue.status().failures === 1);
    put('b', 2);
    put('c', 3);
    put('d', 4);
    expect(stats.snapshot()).toMatchObject({ spooled: 3, buffered: 7 });
    expect(queue.status()).toMatchObject({ memoryBatches: 2, memoryBytes: 200, spooled: 3, spooledSegments: 1 });
    expect(spool.bytes()).toBeGreaterThan(0);
    sender.answer = () => OK;
    expect(await queue.flush(5000)).toBe(true);
    expect(sentTags(sender)).toEqual(['batch-a-', 'batch-a-', 'batch-b-', 'batch-c-', 'batch-d-']);
    // What went to disk was counted when it went; its delivery is counted as a replay.
    expect(stats.snapshot()).toMatchObject({ exported: 7, spooled: 3, buffered: 0 });
    expect(queue.status()).toMatchObject({ memoryBatches: 0, spooledSegments: 0, spooledBytes: 0, replayed: { exported: 3, dropped: 0 } });
  });

  it('drops, counted, what does not fit in memory when there is no spool', async () => {
    const sender = fakeSender();
    sender.answer = () => retryable(60_000);
    const stats = createSignalStats();
    const queue = createExportQueue({ signal: 'logs', sender, stats, spool: null, maxMemoryBytes: 250, retry: { initialMs: 10, maxMs: 20 }, sendTimeoutMs: 1000, onError: () => undefined });
    for (const [tag, records] of [['a', 1], ['b', 2], ['c', 3]] as const) {
      stats.accepted(records);
      queue.enqueue(batch(tag, records).bytes, records);
    }
    expect(stats.snapshot()).toMatchObject({ failed: 3, dropped: { queue_full: 3 }, buffered: 3 });
    expect(queue.status().memoryBatches).toBe(1);
    await queue.shutdown(Date.now() + 50);
    expect(stats.snapshot()).toMatchObject({ failed: 6, buffered: 0 });
  });

  it('spills everything to disk at a stop when the collector fails, and the next queue replays it', async () => {
    const dir = join(tempDir(), 'metrics');
    const first = harness({ dir });
    first.sender.answer = () => retryable();
    first.put('a', 1);
    first.put('b', 2);
    first.put('c', 3);
    await waitFor(() => first.queue.status().failures >= 1);
    const started = Date.now();
    await first.queue.shutdown(started + 2000);
    expect(Date.now() - started).toBeLessThan(500);
    expect(first.stats.snapshot()).toMatchObject({ accepted: 6, spooled: 6, buffered: 0, exported: 0 });
    expect(first.queue.status()).toMatchObject({ memoryBatches: 0, memoryBytes: 0, spooled: 6, spooledSegments: 1 });
    // Accepted after the stop: counted, not kept.
    first.put('late', 4);
    expect(first.stats.snapshot()).toMatchObject({ failed: 4, dropped: { shutdown_deadline: 4 }, buffered: 0 });

    const second = harness({ dir });
    await waitFor(() => !second.queue.pending());
    expect(sentTags(second.sender)).toEqual(['batch-a-', 'batch-b-', 'batch-c-']);
    expect(second.queue.status().replayed).toEqual({ exported: 6, dropped: 0 });
    expect(second.stats.snapshot()).toMatchObject({ exported: 0, buffered: 0 });
    expect(segmentFiles(dir)).toEqual([]);
  });

  it('stops by its deadline when a send hangs, with the batch on the wire spilled too', async () => {
    const dir = join(tempDir(), 'metrics');
    const first = harness({ dir });
    first.sender.answer = never;
    first.put('a', 1);
    first.put('b', 2);
    first.put('c', 3);
    await waitFor(() => first.sender.got.length === 1);
    const started = Date.now();
    const stopping = first.queue.shutdown(started + 150);
    expect(first.queue.shutdown(started + 60_000)).toBe(stopping);
    await stopping;
    // The send's own timeout is 10 s; the stop waits for the deadline only.
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(Date.now() - started).toBeLessThan(400);
    expect(first.stats.snapshot()).toMatchObject({ spooled: 6, buffered: 0 });

    const second = harness({ dir });
    await waitFor(() => !second.queue.pending());
    expect(sentTags(second.sender)).toEqual(['batch-a-', 'batch-b-', 'batch-c-']);
    expect(second.queue.status().replayed).toEqual({ exported: 6, dropped: 0 });
    expect(second.stats.snapshot().exported).toBe(0);
  });

  it('sends what it can before the deadline and spills only the rest', async () => {
    const dir = join(tempDir(), 'metrics');
    const { queue, sender, stats, put } = harness({ dir });
    sender.answer = () => retryable(60_000);
    put('a', 1);
    await waitFor(() => queue.status().failures === 1);
    put('b', 2);
    sender.answer = (text) => (text.startsWith('batch-b-') ? retryable() : OK);
    await queue.shutdown(Date.now() + 2000);
    expect(sentTags(sender)).toEqual(['batch-a-', 'batch-a-', 'batch-b-']);
    expect(stats.snapshot()).toMatchObject({ exported: 1, spooled: 2, buffered: 0 });
  });

  it('flushes: true once everything is sent, false while the collector keeps failing', async () => {
    const { queue, sender, put } = harness({ retry: { initialMs: 60_000, maxMs: 60_000 } });
    sender.answer = () => retryable();
    put('a', 1);
    put('b', 1);
    const started = Date.now();
    expect(await queue.flush(300)).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(queue.pending()).toBe(true);
    expect(queue.status().failures).toBeGreaterThanOrEqual(1);
    // The backoff is a minute; flush does not wait for it.
    sender.answer = () => OK;
    expect(await queue.flush(1000)).toBe(true);
    expect(queue.pending()).toBe(false);
    expect(sentTags(sender).slice(-2)).toEqual(['batch-a-', 'batch-b-']);
    expect(await queue.flush(1000)).toBe(true);
  });

  it('flush gives up at its timeout while a send hangs', async () => {
    const { queue, sender, put } = harness();
    sender.answer = never;
    put('a', 1);
    await waitFor(() => sender.got.length === 1);
    const started = Date.now();
    expect(await queue.flush(100)).toBe(false);
    expect(Date.now() - started).toBeLessThan(400);
  });
});

// Each of these failed before the fix it names.
describe('regressions', () => {
  it('a stopped queue sends nothing more: its retry timer outlives shutdown and consumes the spool', async () => {
    const dir = join(tempDir(), 'metrics');
    const { queue, sender, put } = harness({ dir });
    sender.answer = () => retryable();
    put('a', 1);
    await waitFor(() => queue.status().failures >= 1);
    await queue.shutdown(Date.now() + 1000);
    const calls = sender.got.length;
    expect(segmentFiles(dir)).toHaveLength(1);
    // The collector is back; the spilled batch is the next daemon's to send, not this one's.
    sender.answer = () => OK;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(sender.got.length).toBe(calls);
    expect(segmentFiles(dir)).toHaveLength(1);
  });

  it('a send that completes after the stop spilled its batch leaves the counts balanced', async () => {
    const { queue, sender, stats, put } = harness();
    let finish: (outcome: SendOutcome) => void = () => undefined;
    sender.answer = () => new Promise((resolve) => (finish = resolve));
    put('a', 1);
    await waitFor(() => sender.got.length === 1);
    await queue.shutdown(Date.now() + 50);
    finish(OK);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Before the fix: memoryBytes -100 (done() shifted an empty memory), buffered -1 (exported and spooled).
    expect(queue.status().memoryBytes).toBe(0);
    expect(stats.buffered()).toBe(0);
  });

  it('a batch on the wire when a spill happens is still delivered before the younger batches spilled', async () => {
    const { queue, sender, put } = harness({ maxMemoryBytes: 250 });
    let finish: (outcome: SendOutcome) => void = () => undefined;
    sender.answer = () => new Promise((resolve) => (finish = resolve));
    put('a', 1);
    await waitFor(() => sender.got.length === 1);
    // a stays in memory (on the wire); b and c pass the bound and go to disk.
    put('b', 1);
    put('c', 1);
    sender.answer = () => OK;
    finish(retryable());
    await waitFor(() => !queue.pending());
    // Before the fix: b, c, a: the spool was replayed first, though a is older.
    expect(sentTags(sender).slice(1)).toEqual(['batch-a-', 'batch-b-', 'batch-c-']);
  });

  it('the spool bound drops the oldest segment even while it is replayed, and the queue lets it go: nothing is both dropped and sent', async () => {
    const dir = join(tempDir(), 'metrics');
    openSegmentSpool(dir, 300).append([batch('s0', 5), batch('s1', 6)]);
    const sender = fakeSender();
    sender.answer = () => retryable(60_000);
    const { queue, stats, put } = harness({ spool: openSegmentSpool(dir, 300), sender, maxMemoryBytes: 150 });
    await waitFor(() => queue.status().failures === 1);
    // The spill of m0 and m1 (248 bytes) does not fit beside the segment under replay (248
    // bytes): the oldest goes, counted, although it is being replayed.
    put('m0', 1);
    put('m1', 2);
    expect(stats.snapshot().dropped).toEqual({ spool_full: 11 });
    sender.answer = () => OK;
    await queue.flush(1000);
    // m0 and m1 went out from disk: counted as replayed (they were counted spooled when they went there), s0 not at all.
    expect(queue.status().replayed.exported).toBe(3);
    expect(stats.snapshot()).toMatchObject({ exported: 0, spooled: 3 });
    const orphans = readdirSync(dir).filter((name) => name.endsWith('.sent') && !segmentFiles(dir).includes(name.slice(0, -'.sent'.length)));
    expect(orphans).toEqual([]);
  });

  it('counts the damage of a file cut inside a batch header', () => {
    const dir = join(tempDir(), 'metrics');
    const spool = openSegmentSpool(dir, 1 << 20);
    spool.append([batch('a', 1), batch('b', 2)]);
    const [name] = segmentFiles(dir);
    const path = join(dir, name as string);
    writeFileSync(path, readFileSync(path).subarray(0, MAGIC_BYTES + ENTRY_HEADER + 100 + 10));
    const segment = spool.oldest();
    expect(tags(segment?.batches ?? [])).toEqual(['batch-a-']);
    // Before the fix: 0; fewer than 20 trailing bytes were ignored silently.
    expect(segment?.corrupt).toBe(1);
  });

  it('counts the records of damaged spool batches as dropped, not the number of batches', async () => {
    const dir = join(tempDir(), 'metrics');
    openSegmentSpool(dir, 1 << 20).append([batch('a', 1), batch('b', 50), batch('c', 3)]);
    damageSecondBatch(dir);
    const { queue, stats } = harness({ dir });
    await waitFor(() => !queue.pending());
    // Before the fix: { spool_corrupt: 1 }, a batch count in a map of record counts.
    expect(stats.snapshot().dropped).toEqual({ spool_corrupt: 50 });
  });
});

describe('byte buffers', () => {
  it('hold nothing until written, keep what a load grew them to until the daemon gives memory back, and never drop what is written', () => {
    releaseEmptyBuffers();
    const buffer = createByteBuffer(16, 1024);
    expect(releaseEmptyBuffers()).toBe(0);
    expect(buffer.view().length).toBe(0);
    buffer.write('x'.repeat(100), 'latin1');
    buffer.reset();
    const busy = createByteBuffer(16, 1024);
    busy.write('y'.repeat(100), 'latin1');
    // The emptied buffer gives back all it held; the one still written keeps its bytes.
    expect(releaseEmptyBuffers()).toBe(100);
    expect(busy.view().toString('latin1')).toBe('y'.repeat(100));
    // Written again, it takes its first size again.
    buffer.write('z'.repeat(10), 'latin1');
    expect(buffer.view().toString('latin1')).toBe('z'.repeat(10));
    busy.reset();
    expect(releaseEmptyBuffers()).toBe(100);
    buffer.reset();
    expect(releaseEmptyBuffers()).toBe(16);
    expect(releaseEmptyBuffers()).toBe(0);
  });
});

describe('request memory', () => {
  it('is used again once its request is written, once only, and given back at rest', () => {
    releaseEmptyBuffers();
    const first = copyOf(Buffer.alloc(100_000, 1));
    expect(first.length).toBe(100_000);
    expect(first.every((byte) => byte === 1)).toBe(true);
    requestWritten(first);
    // A second note of the same request must not put its memory in the pool twice.
    requestWritten(first);
    const second = copyOf(Buffer.alloc(90_000, 2));
    const third = copyOf(Buffer.alloc(90_000, 3));
    expect(second.buffer).toBe(first.buffer);
    expect(third.buffer).not.toBe(first.buffer);
    expect(second.every((byte) => byte === 2)).toBe(true);
    // Bytes not lent for a request, and small copies, are left alone.
    requestWritten(Buffer.alloc(100_000));
    const small = copyOf(Buffer.from('small'));
    requestWritten(small);
    requestWritten(second);
    requestWritten(third);
    // Memory more than twice a request's size is not taken for it: a small request waiting in a
    // queue must not hold a large one's memory.
    expect(releaseEmptyBuffers()).toBe(2 * 128 * 1024);
    const large = copyOf(Buffer.alloc(1_000_000));
    requestWritten(large);
    expect(copyOf(Buffer.alloc(70_000)).buffer).not.toBe(large.buffer);
    expect(copyOf(Buffer.alloc(600_000)).buffer).toBe(large.buffer);
    expect(releaseEmptyBuffers()).toBe(0);
  });

  it('is where a JSON request is written: the request keeps it, uncopied, and the next one is written elsewhere until it comes back', () => {
    releaseEmptyBuffers();
    const { logs } = eventBatch();
    const first = serializeLogsJson(logs) as Buffer;
    const before = Buffer.from(first);
    expect(first.length).toBeGreaterThan(64 * 1024);
    // The scratch's own memory: a copy would have been sized to the request.
    expect(first.buffer.byteLength).toBeGreaterThanOrEqual(1024 * 1024);
    const second = serializeLogsJson(logs.slice(1)) as Buffer;
    expect(second.buffer).not.toBe(first.buffer);
    expect(first.equals(before)).toBe(true);
    // Written: its memory takes the next request.
    requestWritten(first);
    const third = serializeLogsJson(logs) as Buffer;
    expect(third.buffer).toBe(first.buffer);
    expect(third.equals(before)).toBe(true);
    requestWritten(second);
    requestWritten(third);
    // A small request is a copy: the scratch keeps its memory, empty, and gives it back at rest.
    const small = serializeLogsJson(logs.slice(0, 2)) as Buffer;
    expect(small.buffer.byteLength).toBeLessThan(1024 * 1024);
    expect(requestScratch.length).toBe(0);
    expect(releaseEmptyBuffers()).toBeGreaterThanOrEqual(1024 * 1024);
  });

  it('keeps at most POOL_KEPT_BYTES at rest, the memory of the requests written last', () => {
    releaseEmptyBuffers();
    // Twenty requests waiting at once (a lane ahead of its exporter), then written in turn.
    const requests = Array.from({ length: 20 }, (_, index) => copyOf(Buffer.alloc(600_000 + index * 16_384)));
    for (const request of requests) requestWritten(request);
    // The newest whose memory fits within the bound are kept, and only they.
    let kept = 0;
    for (let bytes = 0; kept < requests.length; kept++) {
      bytes += (requests[requests.length - 1 - kept] as Buffer).buffer.byteLength;
      if (bytes > POOL_KEPT_BYTES) break;
    }
    expect(kept).toBeGreaterThan(4);
    const newest = requests.slice(-kept).reverse();
    const taken = newest.map((request) => copyOf(Buffer.alloc(request.length)).buffer);
    const pooled = new Set(newest.map((request) => request.buffer));
    for (const memory of taken) expect(pooled.has(memory)).toBe(true);
    expect(new Set(taken).size).toBe(kept);
    expect(releaseEmptyBuffers()).toBe(0);
    // A request larger than the whole bound is not kept at all.
    requestWritten(copyOf(Buffer.alloc(POOL_KEPT_BYTES + 1)));
    expect(releaseEmptyBuffers()).toBe(0);
  });

  it('comes back from the file exporter once a batch is written, not from a sender that may still hold it', async () => {
    releaseEmptyBuffers();
    const dir = tempDir();
    const file = createFileSender('logs', { dir, maxFileBytes: 1 << 24, maxFiles: 2 });
    const request = copyOf(Buffer.alloc(200_000, 0x61));
    const { queue, stats } = harness({ sender: file as FakeSender });
    stats.accepted(1);
    queue.enqueue(request, 1);
    expect(await queue.flush(5000)).toBe(true);
    expect(readFileSync(join(dir, 'logs.jsonl')).length).toBe(200_001);
    expect(copyOf(Buffer.alloc(150_000)).buffer).toBe(request.buffer);
    // A sender that does not say it lets go of the bytes (gRPC, HTTP) keeps its requests' memory to itself.
    const held = copyOf(Buffer.alloc(200_000));
    const other = harness();
    other.stats.accepted(1);
    other.queue.enqueue(held, 1);
    expect(await other.queue.flush(5000)).toBe(true);
    expect(copyOf(Buffer.alloc(150_000)).buffer).not.toBe(held.buffer);
    releaseEmptyBuffers();
  });
});
