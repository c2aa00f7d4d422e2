/**
 * Unit tests of the parts the thin client is wired from: the drop ledger and the batch framer.
 * (The frame queue and the exit path are exercised end to end, in client-spans, e2e-client and
 * e2e-lifecycle.)
 */
import { describe, expect, it } from 'vitest';

import { createBatchFramer, EVENTS_PER_FRAME, type Frame, takeBack } from '../client/batch-framer.js';
import { createDropLedger } from '../client/drop-ledger.js';
import { createFrameDecoder, type Limits, MAX_BATCH_EVENTS, MAX_BATCH_RECORDS, MAX_BATCH_SPANS, MAX_MESSAGE_BYTES, type MetricRecord, type SessionEvent } from '../protocol/index.js';

function reporter(): { report: (key: string, message: string) => void; keys: string[] } {
  const keys: string[] = [];
  const seen = new Set<string>();
  return {
    keys,
    report(key) {
      if (seen.has(key)) return;
      seen.add(key);
      keys.push(key);
    },
  };
}

/** The JSON-RPC message a frame holds. */
function messageOf(frame: Frame): { method?: string; id?: number; params: Record<string, unknown> } {
  const [decoded] = createFrameDecoder().push(frame.frame);
  if (decoded?.kind !== 'message') throw new Error('not one message');
  return decoded.message as { method?: string; id?: number; params: Record<string, unknown> };
}

describe('drop ledger', () => {
  it('counts drops by kind and reason, and reports each kind of problem once under its own key', () => {
    const { report, keys } = reporter();
    const drops = createDropLedger(report);
    drops.drop('records', 'client_buffer_full', 2, 'full');
    drops.drop('records', 'client_buffer_full', 3, 'full');
    drops.drop('events', 'client_buffer_full', 1, 'full');
    drops.drop('spans', 'client_span_open', 4, 'open');
    drops.drop('spanParts', 'invalid_attributes', 1, 'bad attribute');
    expect(drops.totals('records')).toEqual({ client_buffer_full: 5 });
    expect(drops.totals('events')).toEqual({ client_buffer_full: 1 });
    expect(drops.totals('spans')).toEqual({ client_span_open: 4 });
    expect(drops.totals('spanParts')).toEqual({ invalid_attributes: 1 });
    expect(keys).toEqual(['client_buffer_full', 'event_client_buffer_full', 'span_client_span_open', 'span_part_invalid_attributes']);
  });

  it('hands the unreported counts to one batch, takes them back when it is not sent, and never reports span parts', () => {
    const drops = createDropLedger(() => undefined);
    drops.drop('events', 'invalid_event', 2, 'bad');
    drops.drop('spanParts', 'invalid_links', 1, 'bad link');
    drops.countOnly('spans', 'not_sampled', 3);
    expect(drops.totals('spans')).toEqual({ not_sampled: 3 });
    expect(drops.hasUnreported('spans')).toBe(false);
    const taken = drops.takeUnreported('events');
    expect(taken).toEqual({ invalid_event: 2 });
    expect(drops.takeUnreported('events')).toBeUndefined();
    drops.drop('events', 'invalid_event', 1, 'bad');
    drops.restore('events', taken);
    expect(drops.unreported()).toEqual({ records: undefined, events: { invalid_event: 3 }, spans: undefined });
    drops.clearUnreported();
    expect(drops.hasUnreported('events')).toBe(false);
    // The totals are not what the daemon was told: they stay.
    expect(drops.totals('events')).toEqual({ invalid_event: 3 });
  });
});

describe('batch framer', () => {
  const limits = (maxMessageBytes: number, maxBatchRecords = 4): Limits => ({ maxMessageBytes, maxBatchRecords, maxBatchEvents: 2, maxBatchSpans: 2 });
  const counter = (name: string, value = 1): MetricRecord => ({ name, kind: 'counter', value });

  it('puts the unreported drop counts of its kind on a batch, and back in the ledger when the frame is taken back', () => {
    const drops = createDropLedger(() => undefined);
    drops.drop('records', 'invalid_name', 2, 'bad name');
    drops.drop('events', 'invalid_event', 1, 'bad event');
    const framer = createBatchFramer(drops);
    const out: Frame[] = [];
    framer.batch('records', [counter('codex.a')], out);
    expect(out).toHaveLength(1);
    expect(messageOf(out[0] as Frame)).toMatchObject({ method: 'metric/record', params: { records: [counter('codex.a')], dropped: { invalid_name: 2 } } });
    expect(drops.hasUnreported('records')).toBe(false);
    expect(drops.hasUnreported('events')).toBe(true);
    expect(takeBack(out, drops).records).toEqual([counter('codex.a')]);
    expect(drops.unreported().records).toEqual({ invalid_name: 2 });
  });

  it('splits a batch too large for one message in halves, and drops and counts an item that alone is too large', () => {
    const drops = createDropLedger(() => undefined);
    const framer = createBatchFramer(drops);
    framer.setLimits(limits(400));
    const event = (text: string): SessionEvent => ({ sessionId: 's-1', name: 'codex.user_prompt', time: 1, attributes: { text } });
    const out: Frame[] = [];
    framer.batch('events', [event('a'.repeat(150)), event('b'.repeat(150)), event('c'.repeat(500))], out);
    expect(out.map((frame) => frame.events.length)).toEqual([1, 1]);
    for (const frame of out) expect(frame.frame.byteLength).toBeLessThanOrEqual(400);
    expect(drops.totals('events')).toEqual({ client_undeliverable: 1 });
    expect(drops.unreported().events).toEqual({ client_undeliverable: 1 });
  });

  it('frames a list of any length in batches within the limits, counting measurements for records', () => {
    const framer = createBatchFramer(createDropLedger(() => undefined));
    framer.setLimits(limits(1_000_000, 4));
    const histogram: MetricRecord = { name: 'codex.latency_ms', kind: 'histogram', values: [1, 2, 3] };
    const out: Frame[] = [];
    framer.all('records', [histogram, counter('codex.a'), counter('codex.b'), counter('codex.c')], out);
    expect(out.map((frame) => frame.measurements)).toEqual([4, 2]);
    framer.all('events', [1, 2, 3].map((time) => ({ sessionId: 's-1', name: 'codex.x', time })), out);
    expect(out.slice(2).map((frame) => frame.events.length)).toEqual([2, 1]);
    expect(framer.maxBatch('spans')).toBe(2);
    expect(framer.daemonTakesSpans).toBe(true);
  });

  it('frames events in batches of EVENTS_PER_FRAME at most, though the daemon takes more in one', () => {
    const framer = createBatchFramer(createDropLedger(() => undefined));
    expect(framer.maxBatch('events')).toBe(EVENTS_PER_FRAME);
    framer.setLimits({ maxMessageBytes: MAX_MESSAGE_BYTES, maxBatchRecords: MAX_BATCH_RECORDS, maxBatchEvents: MAX_BATCH_EVENTS, maxBatchSpans: MAX_BATCH_SPANS });
    expect(EVENTS_PER_FRAME).toBeLessThan(MAX_BATCH_EVENTS);
    const out: Frame[] = [];
    framer.all('events', Array.from({ length: 300 }, (_, time) => ({ sessionId: 's-1', name: 'codex.x', time })), out);
    expect(out.map((frame) => frame.events.length)).toEqual([EVENTS_PER_FRAME, EVENTS_PER_FRAME, 300 - 2 * EVENTS_PER_FRAME]);
    // A daemon that takes fewer is obeyed.
    framer.setLimits(limits(1_000_000));
    expect(framer.maxBatch('events')).toBe(2);
  });

  it('knows a daemon of a release without trace/span by its limits', () => {
    const framer = createBatchFramer(createDropLedger(() => undefined));
    framer.setLimits({ maxMessageBytes: 1000, maxBatchRecords: 10, maxBatchEvents: 10 } as unknown as Limits);
    expect(framer.daemonTakesSpans).toBe(false);
  });

  it('encodes control messages as requests with an id, and notifications without', () => {
    const framer = createBatchFramer(createDropLedger(() => undefined));
    expect(messageOf(framer.control('session/end', { sessionId: 's-1' }))).toEqual({ jsonrpc: '2.0', method: 'session/end', params: { sessionId: 's-1' } });
    const request = framer.control('session/summary', { sessionId: 's-1' }, 16);
    expect(messageOf(request)).toMatchObject({ id: 16, method: 'session/summary' });
    expect(request).toMatchObject({ kind: 'control', measurements: 0, dropped: undefined });
  });
});
