/**
 * Ingests one `metric/record` batch, wherever it came from (a connection or a hand-off file):
 * check it, count it, hand the valid records to the pipeline. Pure bookkeeping around
 * protocol/'s checks; no I/O.
 */
import {
  BATCH_REJECTION,
  checkMetricBatch,
  ErrorCodes,
  measurementCount,
  measurementsIn,
  measurementsOf,
  type MetricRecord,
  type MetricRecordBatch,
  sanitizeTagValue,
} from '../protocol/index.js';
import type { HostResource } from './host-resources.js';
import type { MetricsPipeline } from './metrics-pipeline.js';
import { type SessionRegistry, withSessionTags } from './session-registry.js';
import type { SignalStats } from './stats.js';

export type IngestOutcome =
  | { readonly ok: true; readonly received: number; readonly result: MetricRecordBatch.Result }
  | { readonly ok: false; readonly received: number; readonly code: number; readonly message: string; readonly protocolError: string };

/** The outcome of a batch refused as a whole: a bad envelope, or more than the batch limit. */
export function batchRefused(checked: { readonly message: string; readonly tooLarge?: boolean }, received: number): IngestOutcome & { ok: false } {
  const tooLarge = checked.tooLarge === true;
  return {
    ok: false,
    received,
    code: tooLarge ? ErrorCodes.BatchTooLarge : ErrorCodes.InvalidParams,
    message: checked.message,
    protocolError: tooLarge ? 'batch_too_large' : 'invalid_params',
  };
}

/** Maps each valid record's position among the valid ones back to its index in the batch. */
function validPositions(total: number, rejected: readonly MetricRecordBatch.Rejection[]): number[] {
  const bad = new Set(rejected.map((rejection) => rejection.index));
  const positions: number[] = [];
  for (let index = 0; index < total; index++) if (!bad.has(index)) positions.push(index);
  return positions;
}

/** Who sent a batch, for session tagging. */
export interface BatchSource {
  readonly sessions: SessionRegistry;
  /** `client.name` of the sending connection (sanitised into a tag), or null. */
  readonly clientName: string | null;
  /**
   * What to do with a record whose session is unknown: reject it (`unknown_session`), or, for
   * records handed over by a host that exited (the daemon may have restarted since the session
   * began), accept it without session tags.
   */
  readonly unknownSession: 'reject' | 'untagged';
  /** Sees every accepted record, session tags added (for session summaries and tool stats). */
  readonly observe?: (record: MetricRecord) => void;
  /** The sending host's resource: its records are exported under it, in series of their own. */
  readonly resource: HostResource;
}

/**
 * Ingests one batch. All counts are of measurements: a histogram record with a `values` array
 * counts each value, whether it is accepted or rejected. Records with a known `sessionId` get
 * their session's tags and `client.name`.
 */
export function ingestMetricBatch(params: unknown, metrics: MetricsPipeline, stats: SignalStats, source: BatchSource, checked = checkMetricBatch(params)): IngestOutcome {
  const received = checked.ok ? checked.value.measurements : measurementCount(params);
  stats.received(received);
  if (!checked.ok) {
    stats.rejected(BATCH_REJECTION, received);
    return batchRefused(checked, received);
  }
  const { records, rejected, dropped } = checked.value;
  for (const [reason, count] of dropped) stats.dropped(`client_${reason.replace(/^client_/, '')}`, count);
  const raw = (params as { records: unknown[] }).records;
  // Valid records keep their batch positions for messages about later rejections.
  let positions = rejected.length === 0 ? null : validPositions(raw.length, rejected);
  let toRecord = records;
  if (records.some((record) => record.sessionId !== undefined)) {
    const clientTag = source.clientName === null ? null : sanitizeTagValue(source.clientName);
    const kept: MetricRecord[] = [];
    const keptPositions: number[] = [];
    records.forEach((record, position) => {
      const index = positions === null ? position : (positions[position] as number);
      const session = record.sessionId === undefined ? undefined : source.sessions.use(record.sessionId);
      if (record.sessionId !== undefined && session === undefined && source.unknownSession === 'reject') {
        rejected.push({ index, code: 'unknown_session', message: `records[${index}].sessionId: no session ${JSON.stringify(record.sessionId)}; start it with session/start` });
        return;
      }
      kept.push(session === undefined ? record : withSessionTags(record, session, clientTag));
      keptPositions.push(index);
    });
    toRecord = kept;
    positions = keptPositions;
  }
  const checkFailures = rejected.length;
  const indexOf = (position: number): number => (positions === null ? position : (positions[position] as number));
  const accepted = metrics.record(toRecord, indexOf, rejected, source.resource);
  if (source.observe !== undefined) {
    // Records the pipeline refused (kind conflicts) are not observed.
    const refused = rejected.length > checkFailures ? new Set(rejected.slice(checkFailures).map((rejection) => rejection.index)) : null;
    for (let position = 0; position < toRecord.length; position++) {
      if (refused === null || !refused.has(indexOf(position))) source.observe(toRecord[position] as MetricRecord);
    }
  }
  if (rejected.length > 0 && (rejected.length > checkFailures || toRecord !== records)) rejected.sort((a, b) => a.index - b.index);
  for (const rejection of rejected) stats.rejected(rejection.code, measurementsOf(raw[rejection.index]));
  return { ok: true, received, result: { accepted, rejected } };
}

/** Where accepted records go and what sees them: the same for every source. */
export interface MetricIngestOptions {
  readonly metrics: MetricsPipeline;
  readonly stats: SignalStats;
  readonly sessions: SessionRegistry;
  /** Sees every accepted record (session summaries, tool stats). */
  readonly observe: (record: MetricRecord) => void;
  /** The daemon's own resource, for what it measures itself. */
  readonly ownResource: HostResource;
}

/**
 * The metric side of ingest, as the event ingest is the event side: what connections
 * and hand-off files send, what the event ingest derives, and what the daemon measures itself
 * (a feedback report's outcome) all go through here, counted alike.
 */
export interface MetricIngest {
  /** One `metric/record` batch; `source` says who sent it and how its sessions are treated. */
  ingest(params: unknown, source: Omit<BatchSource, 'sessions' | 'observe'>): IngestOutcome;
  /** Records derived from accepted events, counted as records from the event's source. */
  recordDerived(records: MetricRecord[], source: Pick<BatchSource, 'clientName' | 'resource'>): void;
  /** One record of the daemon's own, under its own resource. */
  recordOwn(record: MetricRecord): void;
}

export function createMetricIngest(options: MetricIngestOptions): MetricIngest {
  const { metrics, stats, sessions, observe } = options;
  const ingest = (params: unknown, source: Omit<BatchSource, 'sessions' | 'observe'>): IngestOutcome => ingestMetricBatch(params, metrics, stats, { ...source, sessions, observe });
  return {
    ingest,
    // The daemon made them from checked events: not checked again, and a counter's increments
    // may come gathered in `values`, which the wire does not take.
    recordDerived: (records, source) =>
      void ingestMetricBatch({ records }, metrics, stats, { ...source, unknownSession: 'untagged', sessions, observe }, { ok: true, value: { records, measurements: measurementsIn(records), rejected: [], dropped: new Map() } }),
    // Not observed: the daemon's own measurements are no session's or tool's.
    recordOwn: (record) => void ingestMetricBatch({ records: [record] }, metrics, stats, { sessions, clientName: null, unknownSession: 'untagged', resource: options.ownResource }),
  };
}
