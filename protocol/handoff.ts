/**
 * The hand-off file: what a host exiting before its telemetry reached the daemon leaves in the
 * socket's folder (`handoff/*.json`, written to a temporary name and renamed). The daemon
 * ingests it like the batches it stands for, from the connection it would have come on.
 */
import type { ClientInfo, HostSpan, MetricRecord, ResourceAttributes, SessionEvent, SessionStart } from './methods.js';

export const HANDOFF_VERSION = 1;

export interface Handoff {
  readonly version: typeof HANDOFF_VERSION;
  readonly clientInfo: ClientInfo;
  /** The host's resource, as it would have given it in `initialize`. */
  readonly resource?: ResourceAttributes;
  readonly pid: number;
  readonly records: readonly MetricRecord[];
  readonly events?: readonly SessionEvent[];
  readonly spans?: readonly HostSpan[];
  /** The host's live sessions, registered before its records, events and spans are ingested. */
  readonly sessions?: readonly SessionStart.Params[];
  /** Records the host dropped, by reason. */
  readonly dropped?: Readonly<Record<string, number>>;
  /** Events the host dropped, by reason. */
  readonly eventsDropped?: Readonly<Record<string, number>>;
  /** Spans the host dropped, by reason (spans still open at exit are `client_span_open`). */
  readonly spansDropped?: Readonly<Record<string, number>>;
}
