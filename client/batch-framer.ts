/**
 * Encodes what the client sends into frames the daemon takes: batches of records, events or
 * spans within its limits (split in halves when a batch is too large for one message), each
 * carrying the drop counts of its kind the daemon has not been told of, and control messages.
 * It holds the limits of the connection in use; the frame queue decides order and writing.
 */
import {
  batchEnd,
  encodeFrame,
  type HostSpan,
  type Limits,
  MAX_BATCH_EVENTS,
  MAX_BATCH_RECORDS,
  MAX_BATCH_SPANS,
  MAX_MESSAGE_BYTES,
  measurementsIn,
  type MetricRecord,
  MetricRecordBatch,
  type SessionEvent,
  SessionEventBatch,
  TraceSpanBatch,
} from '../protocol/index.js';
import type { DropCounts, DropKind, DropLedger } from './drop-ledger.js';

/** What a frame carries: a batch of one kind of telemetry, or a control message (session/start, session/end, a request). */
export type FrameKind = DropKind | 'control';

/** An encoded message and what it carries: a `metric/record`, `session/event` or `trace/span` batch, or a control message. */
export interface Frame {
  readonly frame: Buffer;
  readonly kind: FrameKind;
  readonly records: MetricRecord[];
  readonly events: SessionEvent[];
  readonly spans: HostSpan[];
  /** The drop counts it reports (of its kind of telemetry), to put back if the frame is never sent. */
  readonly dropped: DropCounts | undefined;
  /** Measurements in `records` (each histogram value counts). */
  readonly measurements: number;
}

/** What frames carry, or buffers held, taken back unsent. */
export interface Unsent {
  readonly records: MetricRecord[];
  readonly events: SessionEvent[];
  readonly spans: HostSpan[];
}

const BATCH_METHODS = { records: MetricRecordBatch.method, events: SessionEventBatch.method, spans: TraceSpanBatch.method } as const;
const NOUNS = { records: 'record', events: 'event', spans: 'span' } as const;

/**
 * What `frames` carry, their drop counts put back in `drops` to be reported again: frames that
 * will never be written.
 */
export function takeBack(frames: readonly Frame[], drops: DropLedger): Unsent {
  const unsent: Unsent = { records: [], events: [], spans: [] };
  for (const entry of frames) {
    unsent.records.push(...entry.records);
    unsent.events.push(...entry.events);
    unsent.spans.push(...entry.spans);
    if (entry.kind !== 'control') drops.restore(entry.kind, entry.dropped);
  }
  return unsent;
}

export interface BatchFramer {
  /** A connection is initialized: its daemon's limits apply from now on. */
  setLimits(limits: Limits): void;
  /** Encodes a message that carries no telemetry (session/start, session/end, a request when `id` is given). */
  control(method: string, params: object, id?: number): Frame;
  /**
   * Encodes one batch into `out`, with the drop counts of its kind not yet reported; a batch too
   * big for one message is split in halves, and a single item that alone is too big is dropped
   * and counted, since the daemon would close the connection on it.
   */
  batch(kind: DropKind, items: MetricRecord[] | SessionEvent[] | HostSpan[], out: Frame[]): void;
  /** Encodes a list of any length into `out` as batches the daemon takes. */
  all(kind: DropKind, items: MetricRecord[] | SessionEvent[] | HostSpan[], out: Frame[]): void;
  /** Most items of `kind` in one batch (for records: measurements). */
  maxBatch(kind: DropKind): number;
  /** Largest message the daemon takes. */
  readonly maxBytes: number;
  /** False on a connection to a daemon of a release without `trace/span` (no `maxBatchSpans` in its limits). */
  readonly daemonTakesSpans: boolean;
}

/**
 * Most events a frame carries, below what the daemon takes (1,000): the daemon parses a frame
 * whole and holds every event of it while it works through them, so a large frame is a large set
 * of young objects that each of V8's scavenges meanwhile copies. In frames of 128, the daemon
 * spent 0.92x the CPU per event of frames of 250 (row 6's load, 10 alternated pairs, lower in 9).
 */
export const EVENTS_PER_FRAME = 128;

export function createBatchFramer(drops: DropLedger): BatchFramer {
  const max = { records: MAX_BATCH_RECORDS, events: Math.min(MAX_BATCH_EVENTS, EVENTS_PER_FRAME), spans: MAX_BATCH_SPANS };
  let maxBytes = MAX_MESSAGE_BYTES;
  let daemonTakesSpans = true;

  function batch(kind: DropKind, items: MetricRecord[] | SessionEvent[] | HostSpan[], out: Frame[]): void {
    const dropped = drops.takeUnreported(kind);
    const frame = encodeFrame({ jsonrpc: '2.0', method: BATCH_METHODS[kind], params: dropped === undefined ? { [kind]: items } : { [kind]: items, dropped } });
    if (frame.byteLength > maxBytes) {
      drops.restore(kind, dropped);
      const half = items.length >> 1;
      if (half > 0) {
        batch(kind, items.slice(0, half) as typeof items, out);
        batch(kind, items.slice(half) as typeof items, out);
      } else {
        const count = kind === 'records' ? measurementsIn(items as MetricRecord[]) : 1;
        drops.drop(kind, 'client_undeliverable', count, `codexd: one ${NOUNS[kind]} is larger than the daemon's message limit of ${maxBytes} bytes; dropped`);
      }
      return;
    }
    const none: never[] = [];
    out.push({
      frame,
      kind,
      records: kind === 'records' ? (items as MetricRecord[]) : none,
      events: kind === 'events' ? (items as SessionEvent[]) : none,
      spans: kind === 'spans' ? (items as HostSpan[]) : none,
      dropped,
      measurements: kind === 'records' ? measurementsIn(items as MetricRecord[]) : 0,
    });
  }

  return {
    setLimits(limits) {
      max.records = Math.min(MAX_BATCH_RECORDS, limits.maxBatchRecords);
      maxBytes = Math.min(MAX_MESSAGE_BYTES, limits.maxMessageBytes);
      max.events = Math.min(EVENTS_PER_FRAME, limits.maxBatchEvents ?? MAX_BATCH_EVENTS);
      daemonTakesSpans = typeof limits.maxBatchSpans === 'number';
      max.spans = Math.min(MAX_BATCH_SPANS, limits.maxBatchSpans ?? MAX_BATCH_SPANS);
    },
    control(method, params, id) {
      const message = id === undefined ? { jsonrpc: '2.0', method, params } : { jsonrpc: '2.0', id, method, params };
      return { frame: encodeFrame(message), kind: 'control', records: [], events: [], spans: [], dropped: undefined, measurements: 0 };
    },
    batch,
    all(kind, items, out) {
      // The daemon's limit on records counts measurements (each histogram value), not records.
      for (let start = 0; start < items.length; ) {
        const end = kind === 'records' ? batchEnd(items, start, max.records) : start + max[kind];
        batch(kind, items.slice(start, end) as typeof items, out);
        start = end;
      }
    },
    maxBatch: (kind) => max[kind],
    get maxBytes() {
      return maxBytes;
    },
    get daemonTakesSpans() {
      return daemonTakesSpans;
    },
  };
}
