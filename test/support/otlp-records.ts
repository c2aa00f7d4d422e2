/**
 * Records for the tests of the lanes' OTLP serialisers: attribute values of every kind, odd times,
 * ids and scopes, and batches of event-like records that repeat most of their attributes.
 */
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { Resource } from '@opentelemetry/resources';

import { eventLogEntry, type LaneItem, type LogEntry, type SpanEntry } from '../../daemon/lane-records.js';

export const hostA = resourceFromAttributes({ 'service.name': 'codex_exec', 'service.version': '0.169.0', 'host.name': 'box "one"', 'telemetry.sdk.language': 'nodejs' });
export const hostB = resourceFromAttributes({ 'service.name': 'codex-tui', 'process.pid': 4242, weird: 'line\nbreak \u2028 \ud800 lone' }, { schemaUrl: 'https://opentelemetry.io/schemas/1.28.0' });
export const hostC = resourceFromAttributes({ 'service.name': 'x'.repeat(300), nested: { a: [1, 'b'] } as never });

/** Attribute values of every kind the lanes may hold, odd numbers and strings included. */
export const attributes = {
  'conversation.id': '0199a7c2-5f0e-7d31-9a4b-2f6c1e8d3b07',
  model: 'gpt-5.1-codex',
  '1': 'an integer-like key goes first',
  quote: 'say "hi" \\ back\t',
  emoji: 'é — 😀',
  lone: 'half \udc00 a pair',
  long: 'y'.repeat(200),
  longer: 'z'.repeat(20_000),
  int: 42,
  negative: -7,
  minusOne: -1,
  zero: -0,
  large: 2 ** 40 + 3,
  minInt: -(2 ** 63),
  maxSafe: Number.MAX_SAFE_INTEGER,
  big: 1e21,
  twoTo63: 2 ** 63,
  double: 0.25,
  negativeDouble: -1.5e-300,
  nan: Number.NaN,
  infinite: Number.POSITIVE_INFINITY,
  negativeInfinite: Number.NEGATIVE_INFINITY,
  yes: true,
  no: false,
  strings: ['a', 'b'],
  numbers: [1, 2.5, -3],
  mixed: [true, null, 'x', undefined, [1, [2]], { k: 'v' }],
  empty: [],
  bytes: new Uint8Array([0, 1, 2, 255]),
  map: { inner: 'v', deep: { deeper: [false] }, none: null },
  nothing: undefined,
  nil: null,
} as never;

export function span(overrides: Partial<SpanEntry>): SpanEntry {
  return {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    name: 'codex.tool_result',
    kind: 'internal',
    startMs: 1_733_400_000_123.456,
    endMs: 1_733_400_001_000,
    status: { code: 'unset' },
    attributes,
    events: [],
    links: [],
    flags: 1,
    ...overrides,
  };
}

export const on = <E>(resource: Resource, entry: E): LaneItem<E> => ({ entry, resource });

export const context = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', flags: 1 };

/** Event-like records: the same session context and client on each, some values that repeat, some that do not. */
export function eventAttributes(i: number): Record<string, string | number | boolean> {
  return {
    'event.name': `codex.event_${i % 7}`,
    'event.timestamp': new Date(1_733_400_000_000 + i).toISOString(),
    'conversation.id': '0199a7c2-5f0e-7d31-9a4b-2f6c1e8d3b07',
    'app.version': '0.169.0',
    auth_mode: 'chatgpt',
    'user.account_id': 'acct_1234567890',
    'terminal.type': 'xterm-256color',
    model: i % 3 === 0 ? 'gpt-5.1-codex' : 'gpt-5.1-codex-mini',
    slug: 'codex',
    'call.id': `call_${i}`,
    'tool.name': ['shell', 'apply_patch', 'read_file'][i % 3] as string,
    duration_ms: i * 3,
    success: i % 5 !== 0,
    'http.response.status_code': 200,
    // More than 32 values of one key: the first 32 are kept, the rest encoded each time.
    attempt: `attempt-${i % 40}`,
    // More than 256 keys over the batch: the key cache starts again.
    [`key.${i % 300}`]: 'rare',
    decision: i % 2 === 0 ? 'approved' : 'denied',
    source: 'config',
    cached: i % 2 === 0,
    originator: 'codex_cli_rs',
    // Longer text, each value new: plain ASCII, ASCII that JSON escapes, and text beyond ASCII.
    output: `exit code ${i % 3}, ${i} lines of output from the command`,
    path: i % 2 === 0 ? `C:\\Users\\ada\\project\\src\\file-${i}.ts` : `the "${i}th" quoted file of this batch`,
    arguments: `{"command":["bash","-lc","rg -n \\"TODO\\" src"],"call":${i}}\n\t\u007f`,
    summary: `caf\u00e9 ${i}: ${'ü'.repeat(i % 3 === 0 ? 40 : 2)} and more text to make it long`,
  };
}

/** Log records of every shape: events' records and hosts' own, with and without trace context, bodies of each kind. */
export function sampleLogs(): LaneItem<LogEntry>[] {
  return [
    on(hostA, eventLogEntry('codex.sse_event', 1_733_400_000_123.5, attributes, undefined, context.traceId, context.spanId, context.flags)),
    on(hostB, eventLogEntry('codex.api_request', 1_733_400_000_999, { small: 1 }, undefined, undefined, undefined, undefined)),
    on(hostA, eventLogEntry('codex.tool_result', 5, {}, SESSION_CONTEXTS[0], context.traceId, context.spanId, context.flags)),
    on(hostA, { timeMs: 0, observedMs: 1_733_400_000_001, severityNumber: 17, severityText: 'ERROR', body: { nested: ['x', 1] } as never, attributes, scope: { name: 'codex_otel', version: '1.2.3' } }),
    on(hostB, { timeMs: 1_733_400_000_000, observedMs: 1_733_400_000_001, severityNumber: 0, attributes: {}, traceId: context.traceId, spanId: context.spanId, flags: 0, scope: { name: 'codex_otel' } }),
    on(hostA, { timeMs: -1500, observedMs: 1, severityNumber: 9, body: new Uint8Array([1, 2, 255]) as unknown as string, eventName: 'e', attributes: { bytes: 'x' }, scope: { name: 'codex_otel', version: '1.2.3' } }),
    on(hostC, { timeMs: 7, observedMs: 8, severityNumber: -3, body: 12.5, attributes: { n: 1 }, traceId: context.traceId, spanId: context.spanId, flags: 3, scope: { name: 'codex', version: '' } }),
    on(hostC, { timeMs: 7, observedMs: 8, severityNumber: 1, body: ['a', 2, { b: true }] as never, eventName: '', severityText: '', attributes: {}, scope: { name: '' } }),
    on(hostC, { timeMs: 9, observedMs: 10, severityNumber: 24, body: null as never, attributes: { s: 'x'.repeat(130) }, traceId: '', spanId: context.spanId, flags: 1, scope: { name: '' } }),
    on(hostB, { timeMs: 1_733_400_000_000, observedMs: 1_733_400_000_000, severityNumber: 5, body: 'a string body', eventName: 'codex.user_prompt', attributes, scope: { name: 'codex_otel', version: '2' } }),
  ];
}

/** Spans of every shape: parents, trace state, kinds, status, events, links, odd times. */
export function sampleSpans(): LaneItem<SpanEntry>[] {
  return [
    on(hostA, span({})),
    on(hostA, span({ parentSpanId: '00f067aa0ba902b7', parentRemote: true, tracestate: 'vendor=a, other=b,vendor=c', kind: 'client', status: { code: 'error', message: 'boom "quoted" é' } })),
    on(hostB, span({ parentSpanId: '00f067aa0ba902b7', kind: 'server', status: { code: 'ok', message: '' }, scope: { name: 'codex_otel', version: '2' } })),
    on(
      hostB,
      span({
        events: [
          { name: 'first', time: 1_733_400_000_500, attributes: { n: 1 } },
          { name: 'second', time: 1_733_400_000_600, attributes: {} },
          { name: 'big', time: 1_733_400_000_700, attributes },
        ],
        links: [
          { traceId: '1af7651916cd43dd8448eb211c80319c', spanId: 'c7ad6b7169203331', attributes: { why: 'retry' } },
          { traceId: '2af7651916cd43dd8448eb211c80319c', spanId: 'd7ad6b7169203331', tracestate: 'k=v', flags: 0, attributes: {} },
          { traceId: '3AF7651916CD43DD8448EB211C80319C', spanId: 'e7ad6b7169203331', flags: 3, attributes },
        ],
        scope: { name: 'codex_otel', version: '2' },
      }),
    ),
    on(hostA, span({ flags: 3, kind: 'producer', scope: { name: 'codex_otel' } })),
    on(hostA, span({ kind: 'consumer', parentSpanId: '00f067aa0ba902b7', parentRemote: false, startMs: -1500, endMs: 0 })),
    on(hostC, span({ attributes: {}, name: 'ü'.repeat(100), tracestate: 'bad state!!', startMs: 2 ** 40, endMs: 4_102_444_800_000.999 })),
    on(hostA, span({ parentSpanId: '', attributes: { only: 'one' }, startMs: -100_000_000_000.5, endMs: 1 })),
  ];
}

/**
 * Session contexts, which the event ingest gives the serialisers as what an event's attributes
 * begin with (`lead`): two sessions, one of them with a key the serialisers' caches do not keep
 * (a long value), and an empty one.
 */
export const SESSION_CONTEXTS: readonly Readonly<Record<string, string>>[] = [
  { 'conversation.id': '0199a7c2-5f0e-7d31-9a4b-2f6c1e8d3b07', model: 'gpt-5.1-codex', originator: 'codex_cli_rs', 'app.version': '0.169.0' },
  { 'conversation.id': '0299a7c2-5f0e-7d31-9a4b-2f6c1e8d3b08', 'user.email': 'ada "the" <ada@example.com>', note: 'n'.repeat(300), 'terminal.type': 'xterm' },
  {},
];

/**
 * An event's attributes and what they begin with, as the event ingest gives them to the lanes:
 * its session's context as the lead, then its own attributes, none of them under a key of the
 * context's; or, for an event that refines its context (a value it changed), all of them whole
 * and no lead.
 */
function eventWithContext(i: number): { attributes: Record<string, string | number | boolean>; lead: Readonly<Record<string, string>> | undefined } {
  const lead = SESSION_CONTEXTS[Math.floor(i / 6) % SESSION_CONTEXTS.length] as Readonly<Record<string, string>>;
  const own = Object.fromEntries(Object.entries(eventAttributes(i)).filter(([key]) => !(key in lead)));
  if (i % 6 === 1) return { attributes: { ...lead, 'conversation.id': `changed-${i}`, ...own }, lead: undefined };
  return { attributes: own, lead };
}

/** 600 event-like spans and log records, past the bounds of the serialisers' caches. */
export function eventBatch(): { spans: LaneItem<SpanEntry>[]; logs: LaneItem<LogEntry>[] } {
  const spans: LaneItem<SpanEntry>[] = [];
  const logs: LaneItem<LogEntry>[] = [];
  for (let i = 0; i < 600; i++) {
    const host = i % 11 === 0 ? hostB : hostA;
    // One record in seven without a lead: its attributes are written key by key.
    const { attributes: own, lead } = i % 7 === 5 ? { attributes: eventAttributes(i), lead: undefined } : eventWithContext(i);
    spans.push(on(host, span({ name: `codex.event_${i % 7}`, spanId: (0x1000000000000000n + BigInt(i)).toString(16), attributes: own, lead, startMs: 1_733_400_000_000 + i, endMs: 1_733_400_000_010 + i })));
    logs.push(on(host, i % 2 === 0 ? eventLogEntry(`codex.event_${i % 7}`, 1_733_400_000_000 + i, own, lead, context.traceId, context.spanId, context.flags) : eventLogEntry(`codex.event_${i % 7}`, 1_733_400_000_000 + i, own, lead, undefined, undefined, undefined)));
  }
  return { spans, logs };
}
