/**
 * The hand-off file: what a host exiting before its telemetry reached the daemon leaves in the
 * socket's folder (`handoff/*.json`, written to a temporary name and renamed). The daemon
 * ingests it like the batches it stands for, from the connection it would have come on.
 *
 * The client writes a {@link Handoff}; the daemon reads whatever the file holds through
 * {@link checkHandoff}. Files of older clients must keep reading: a field is only ever added,
 * optional, and the version stays 1 while that holds.
 */
import { MAX_RESOURCE_ATTRIBUTE_LENGTH, MAX_RESOURCE_ATTRIBUTES } from './limits.js';
import type { ClientInfo, HostSpan, MetricRecord, ResourceAttributes, SessionEvent, SessionStart } from './methods.js';
import { attributesProblem, type Checked, checkDropped, checkSessionStartParams, isPlainObject } from './validate.js';

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

/**
 * A hand-off file as {@link checkHandoff} vouches for it. The lists are checked as lists only:
 * their items are checked one by one when they are ingested, as the batches they stand for, so
 * one bad record is rejected and counted alone rather than costing the whole file.
 */
export interface CheckedHandoff {
  /** `null` when missing or malformed: the file is still taken, under no client's name. */
  readonly clientInfo: ClientInfo | null;
  readonly resource: ResourceAttributes | undefined;
  readonly records: readonly unknown[];
  readonly events: readonly unknown[];
  readonly spans: readonly unknown[];
  /** The valid ones among the host's live sessions; a malformed one is left out, not fatal. */
  readonly sessions: readonly SessionStart.Params[];
  readonly dropped: Readonly<Record<string, number>> | undefined;
  readonly eventsDropped: Readonly<Record<string, number>> | undefined;
  readonly spansDropped: Readonly<Record<string, number>> | undefined;
}

/** The list `field` of `content`, `[]` when absent, or `null` when it is not an array. */
function listOf(content: Record<string, unknown>, field: string, required: boolean): readonly unknown[] | null {
  const value = content[field];
  if (value === undefined && !required) return [];
  return Array.isArray(value) ? value : null;
}

/** The drop counts under `field`, checked as a batch's `dropped` is; a string is the problem. */
function dropCountsOf(content: Record<string, unknown>, field: string): Readonly<Record<string, number>> | undefined | string {
  const value = content[field];
  if (value === undefined) return undefined;
  const problem = checkDropped(value);
  return typeof problem === 'string' ? `${field}: ${problem}` : (value as Readonly<Record<string, number>>);
}

/**
 * Checks a parsed hand-off file. Everything that could refuse it is checked here, before any of
 * it is ingested, so a file is taken in whole or not at all; the message names the field.
 */
export function checkHandoff(raw: unknown): Checked<CheckedHandoff> {
  const content = isPlainObject(raw) ? raw : {};
  if (content.version !== HANDOFF_VERSION) return { ok: false, message: 'version: not a version 1 hand-off' };
  const records = listOf(content, 'records', true);
  if (records === null) return { ok: false, message: 'records: must be an array' };
  const events = listOf(content, 'events', false);
  if (events === null) return { ok: false, message: 'events: must be an array' };
  const spans = listOf(content, 'spans', false);
  if (spans === null) return { ok: false, message: 'spans: must be an array' };
  const dropped = dropCountsOf(content, 'dropped');
  if (typeof dropped === 'string') return { ok: false, message: dropped };
  const eventsDropped = dropCountsOf(content, 'eventsDropped');
  if (typeof eventsDropped === 'string') return { ok: false, message: eventsDropped };
  const spansDropped = dropCountsOf(content, 'spansDropped');
  if (typeof spansDropped === 'string') return { ok: false, message: spansDropped };
  const resource = content.resource;
  if (resource !== undefined) {
    const problem = attributesProblem(resource, 'resource', 0, MAX_RESOURCE_ATTRIBUTES, 'the resource', MAX_RESOURCE_ATTRIBUTE_LENGTH);
    if (typeof problem !== 'number') return { ok: false, message: problem.message };
  }
  const info = content.clientInfo;
  const clientInfo = isPlainObject(info) && typeof info.name === 'string' && typeof info.version === 'string' ? { name: info.name, version: info.version } : null;
  const sessions: SessionStart.Params[] = [];
  if (Array.isArray(content.sessions)) {
    for (const candidate of content.sessions) {
      const checked = checkSessionStartParams(candidate);
      if (checked.ok) sessions.push(checked.value);
    }
  }
  return { ok: true, value: { clientInfo, resource: resource as ResourceAttributes | undefined, records, events, spans, sessions, dropped, eventsDropped, spansDropped } };
}
