/**
 * Pure validators that turn `unknown` wire data into typed values. Every failure carries a
 * message naming the field and the rule, ready to put on the wire.
 */
import { CLIENT_DROP_REASONS, REJECTION_CODES, type RejectionCode } from './errors.js';
import {
  MAX_BATCH_EVENTS,
  MAX_BATCH_RECORDS,
  MAX_CLIENT_INFO_LENGTH,
  MAX_EVENT_ATTRIBUTE_KEY_LENGTH,
  MAX_EVENT_ATTRIBUTE_LENGTH,
  MAX_EVENT_ATTRIBUTES,
  MAX_METRIC_NAME_LENGTH,
  MAX_RESOURCE_ATTRIBUTE_LENGTH,
  MAX_RESOURCE_ATTRIBUTES,
  MAX_SESSION_ATTRIBUTE_LENGTH,
  MAX_SESSION_ATTRIBUTES,
  MAX_SESSION_ID_LENGTH,
  MAX_TAGS_PER_RECORD,
  MAX_TAG_KEY_LENGTH,
  MAX_TAG_VALUE_LENGTH,
  MAX_TIME_MS,
} from './limits.js';
import { type BatchRejection, type Initialize, type MetricKind, type MetricRecord, type MetricRecordBatch, type ResourceAttributes, type SessionEnd, type SessionEvent, type SessionStart } from './methods.js';

export type Checked<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

/**
 * Codex's metric-name rule ([A-Za-z0-9._-], non-empty), narrowed to a leading letter: the
 * OpenTelemetry SDK turns an instrument whose name starts otherwise into a silent no-op.
 */
const METRIC_NAME = /^[A-Za-z][A-Za-z0-9._-]*$/;
/**
 * A histogram observes durations and sizes: a negative value has no bucket an OpenTelemetry SDK
 * would count it in (it ignores it), so it is refused rather than accepted and lost.
 */
const NEGATIVE_HISTOGRAM_VALUE = 'a histogram value must not be negative';
/** Codex's tag rule for keys and values. */
const TAG_TEXT = /^[A-Za-z0-9._/-]+$/;

/**
 * Strings already found valid, so a name or tag seen before is not run through its regular
 * expression again: the same few names and tag values make up nearly all traffic. Bounded;
 * emptied when full. Only results of pure checks are kept, so the functions stay pure.
 */
const KNOWN_LIMIT = 8192;
const validNames = new Set<string>();
const validTagKeys = new Set<string>();
const validTagValues = new Set<string>();
const validAttributeKeys = new Set<string>();

/**
 * A key of the tag and attribute alphabets that a JavaScript object cannot hold as a field: set
 * on an object (`tags[key] = value`, `Object.assign`), it changes the object's prototype, or
 * nothing, and the field is gone. The daemon builds tags and attributes that way, so it is
 * refused with a reason rather than accepted and lost.
 */
const RESERVED_KEY = '__proto__';
const RESERVED_KEY_RULE = `key "${RESERVED_KEY}" is reserved`;

function remember(known: Set<string>, text: string): void {
  if (known.size >= KNOWN_LIMIT) known.clear();
  known.add(text);
}

/** True for a time the daemon can turn into a date: finite, from 0 to {@link MAX_TIME_MS}. */
export function isEpochMs(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_TIME_MS;
}

/** What {@link isEpochMs} asks, as a rejection message says it. */
export const TIME_RULE = `must be milliseconds since the Unix epoch, from 0 to ${MAX_TIME_MS}`;

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Why `name` is not a valid metric name, or `null` when it is. */
export function metricNameProblem(name: unknown): string | null {
  if (typeof name !== 'string') return 'must be a string';
  if (validNames.has(name)) return null;
  if (name.length === 0) return 'must not be empty';
  if (name.length > MAX_METRIC_NAME_LENGTH) return `exceeds ${MAX_METRIC_NAME_LENGTH} characters`;
  if (!METRIC_NAME.test(name)) return 'must start with a letter and contain only A-Z a-z 0-9 . _ -';
  remember(validNames, name);
  return null;
}

export interface TagProblem {
  readonly code: RejectionCode;
  /** The field below the record, e.g. `tags.tool`. */
  readonly field: string;
  readonly message: string;
}

/** Why a tag map is invalid, or `null` when it is valid. `undefined` is a valid empty map. */
export function tagsProblem(tags: unknown): TagProblem | null {
  if (tags === undefined) return null;
  if (!isPlainObject(tags)) return { code: 'invalid_tags', field: 'tags', message: 'must be an object of string values' };
  let count = 0;
  for (const key in tags) {
    if (++count > MAX_TAGS_PER_RECORD) {
      return { code: 'too_many_tags', field: 'tags', message: `has more than ${MAX_TAGS_PER_RECORD} tags` };
    }
    if (!validTagKeys.has(key)) {
      if (key.length > MAX_TAG_KEY_LENGTH) {
        return { code: 'invalid_tag_key', field: `tags.${key.slice(0, 32)}…`, message: `key exceeds ${MAX_TAG_KEY_LENGTH} characters` };
      }
      if (!TAG_TEXT.test(key)) {
        return { code: 'invalid_tag_key', field: `tags.${JSON.stringify(key)}`, message: 'key must be non-empty and contain only A-Z a-z 0-9 . _ / -' };
      }
      if (key === RESERVED_KEY) return { code: 'invalid_tag_key', field: `tags.${JSON.stringify(key)}`, message: RESERVED_KEY_RULE };
      remember(validTagKeys, key);
    }
    const value = tags[key];
    if (typeof value !== 'string') {
      return { code: 'invalid_tag_value', field: `tags.${key}`, message: 'value must be a string' };
    }
    if (validTagValues.has(value)) continue;
    if (value.length > MAX_TAG_VALUE_LENGTH) {
      return { code: 'invalid_tag_value', field: `tags.${key}`, message: `value exceeds ${MAX_TAG_VALUE_LENGTH} characters` };
    }
    if (!TAG_TEXT.test(value)) {
      return { code: 'invalid_tag_value', field: `tags.${key}`, message: 'value must be non-empty and contain only A-Z a-z 0-9 . _ / -' };
    }
    remember(validTagValues, value);
  }
  return null;
}

export interface RecordProblem {
  readonly code: RejectionCode;
  readonly message: string;
}

/** A problem with `<list>[index].field`: a metric record's, or (`events`) a session event's. */
function problem(index: number, code: RejectionCode, field: string, rule: string, list: 'records' | 'events' = 'records'): RecordProblem {
  return { code, message: `${list}[${index}].${field}: ${rule}` };
}

/**
 * Checks one record of a batch. Returns `null` when `raw` is a valid {@link MetricRecord};
 * otherwise the rejection code and a message naming `records[index]`, the field and the rule.
 */
export function metricRecordProblem(raw: unknown, index: number): RecordProblem | null {
  if (!isPlainObject(raw)) return { code: 'invalid_record', message: `records[${index}]: must be an object` };
  const nameProblem = metricNameProblem(raw.name);
  if (nameProblem !== null) return problem(index, 'invalid_name', 'name', nameProblem);
  const kind = raw.kind;
  if (kind !== 'counter' && kind !== 'histogram' && kind !== 'gauge') {
    return problem(index, 'invalid_kind', 'kind', 'must be "counter", "histogram" or "gauge"');
  }
  if (raw.values !== undefined) {
    if (raw.value !== undefined) return problem(index, 'invalid_value', 'values', 'give either value or values, not both');
    if (kind !== 'histogram') return problem(index, 'invalid_value', 'values', 'only histograms take a values array');
    const values = raw.values;
    if (!Array.isArray(values) || values.length === 0) return problem(index, 'invalid_value', 'values', 'must be a non-empty array of finite numbers');
    for (let at = 0; at < values.length; at++) {
      const one: unknown = values[at];
      if (typeof one !== 'number' || !Number.isFinite(one)) return problem(index, 'invalid_value', `values[${at}]`, 'must be a finite number');
      if (one < 0) return problem(index, 'invalid_value', `values[${at}]`, NEGATIVE_HISTOGRAM_VALUE);
    }
  } else {
    const value = raw.value;
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      return problem(index, 'invalid_value', 'value', 'must be a finite number');
    }
    if (kind === 'counter' && value < 0) {
      return problem(index, 'negative_counter', 'value', 'a counter increment must not be negative');
    }
    if (kind === 'histogram' && value < 0) return problem(index, 'invalid_value', 'value', NEGATIVE_HISTOGRAM_VALUE);
  }
  const tagProblem = tagsProblem(raw.tags);
  if (tagProblem !== null) return problem(index, tagProblem.code, tagProblem.field, tagProblem.message);
  const sessionId = raw.sessionId;
  if (sessionId !== undefined && (typeof sessionId !== 'string' || sessionId.length === 0 || sessionId.length > MAX_SESSION_ID_LENGTH)) {
    return problem(index, 'invalid_session_id', 'sessionId', `must be a non-empty string of at most ${MAX_SESSION_ID_LENGTH} characters`);
  }
  const time = raw.time;
  if (time !== undefined && !isEpochMs(time)) return problem(index, 'invalid_time', 'time', TIME_RULE);
  return null;
}

/** Measurements a record stands for: the length of its `values` array, else one. */
export function measurementsOf(record: unknown): number {
  const values = typeof record === 'object' && record !== null ? (record as { values?: unknown }).values : undefined;
  return Array.isArray(values) && values.length > 0 ? values.length : 1;
}

/** Measurements in a list of records (see {@link measurementsOf}). */
export function measurementsIn(records: readonly unknown[]): number {
  let total = 0;
  for (const record of records) total += measurementsOf(record);
  return total;
}

/** Measurements in `params.records` when it is an array, else 0. */
export function measurementCount(params: unknown): number {
  const records = typeof params === 'object' && params !== null ? (params as { records?: unknown }).records : undefined;
  return Array.isArray(records) ? measurementsIn(records) : 0;
}

/**
 * Where the batch that starts at `records[start]` ends: as many records as fit `max`
 * measurements, and always at least one. Splitting a long list with it yields batches the
 * batch limit accepts, as long as no single record exceeds it.
 */
export function batchEnd(records: readonly unknown[], start: number, max: number): number {
  let end = start;
  let measurements = 0;
  while (end < records.length && (end === start || measurements + measurementsOf(records[end]) <= max)) measurements += measurementsOf(records[end++]);
  return end;
}

export interface CheckedBatch {
  /** Valid records, in batch order. */
  readonly records: MetricRecord[];
  /** Measurements in the whole batch, valid or not (see {@link measurementsOf}). */
  readonly measurements: number;
  readonly rejected: MetricRecordBatch.Rejection[];
  /** Counts the client reported as dropped or rejected on its side, by reason. */
  readonly dropped: ReadonlyMap<string, number>;
}

/** The client's drop counts of a batch (`params.dropped`), or the problem with them. */
export function checkDropped(raw: unknown): Map<string, number> | string {
  const dropped = new Map<string, number>();
  if (raw === undefined) return dropped;
  if (!isPlainObject(raw)) return 'params.dropped: must be an object of counts';
  for (const reason in raw) {
    if (!(CLIENT_DROP_REASONS as readonly string[]).includes(reason) && !(REJECTION_CODES as readonly string[]).includes(reason)) {
      return `params.dropped.${reason.slice(0, 64)}: unknown reason; expected client_buffer_full, client_undeliverable or a rejection code`;
    }
    const count = raw[reason];
    if (typeof count !== 'number' || !Number.isSafeInteger(count) || count < 0) return `params.dropped.${reason}: must be a non-negative integer`;
    if (count > 0) dropped.set(reason, count);
  }
  return dropped;
}

/**
 * Checks `metric/record` params. A malformed envelope (not an object, `records` not an array,
 * too many records) fails as a whole; otherwise each bad record is rejected alone.
 */
export function checkMetricBatch(params: unknown): Checked<CheckedBatch> & { tooLarge?: boolean } {
  if (!isPlainObject(params)) return { ok: false, message: 'params: must be an object with a "records" array' };
  const raw = params.records;
  if (!Array.isArray(raw)) return { ok: false, message: 'params.records: must be an array' };
  const measurements = measurementCount(params);
  if (measurements > MAX_BATCH_RECORDS) {
    return { ok: false, tooLarge: true, message: `params.records: ${measurements} measurements exceed the batch limit of ${MAX_BATCH_RECORDS}` };
  }
  const dropped = checkDropped(params.dropped);
  if (typeof dropped === 'string') return { ok: false, message: dropped };
  const records: MetricRecord[] = [];
  const rejected: MetricRecordBatch.Rejection[] = [];
  // Rejections come out in batch order: the daemon appends later ones (kind conflicts) and sorts.
  for (let index = 0; index < raw.length; index++) {
    const record: unknown = raw[index];
    const found = metricRecordProblem(record, index);
    if (found === null) records.push(record as MetricRecord);
    else rejected.push({ index, code: found.code, message: found.message });
  }
  return { ok: true, value: { records, measurements, rejected, dropped } };
}

function checkShortString(value: unknown, field: string): string | null {
  if (typeof value !== 'string' || value.length === 0) return `${field}: must be a non-empty string`;
  if (value.length > MAX_CLIENT_INFO_LENGTH) return `${field}: exceeds ${MAX_CLIENT_INFO_LENGTH} characters`;
  return null;
}

/**
 * Checks `initialize` params. The protocol version is checked for type only; whether the
 * daemon speaks it is the caller's decision.
 */
export function checkInitializeParams(params: unknown): Checked<Initialize.Params> {
  if (!isPlainObject(params)) return { ok: false, message: 'params: must be an object' };
  if (typeof params.protocolVersion !== 'number' || !Number.isInteger(params.protocolVersion)) {
    return { ok: false, message: 'params.protocolVersion: must be an integer' };
  }
  const info = params.clientInfo;
  if (!isPlainObject(info)) return { ok: false, message: 'params.clientInfo: must be an object with "name" and "version"' };
  const bad = checkShortString(info.name, 'params.clientInfo.name') ?? checkShortString(info.version, 'params.clientInfo.version');
  if (bad !== null) return { ok: false, message: bad };
  const pid = params.processId;
  if (pid !== undefined && (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0)) {
    return { ok: false, message: 'params.processId: must be a positive integer' };
  }
  const resource = params.resource;
  if (resource !== undefined) {
    const found = attributesProblem(resource, 'params.resource', 0, MAX_RESOURCE_ATTRIBUTES, 'the resource', MAX_RESOURCE_ATTRIBUTE_LENGTH);
    if (typeof found !== 'number') return { ok: false, message: found.message };
  }
  return {
    ok: true,
    value: {
      protocolVersion: params.protocolVersion,
      clientInfo: { name: info.name as string, version: info.version as string },
      ...(pid === undefined ? {} : { processId: pid }),
      ...(resource === undefined ? {} : { resource: resource as ResourceAttributes }),
    },
  };
}

/** True when `kind` is a metric kind of the protocol. */
export function isMetricKind(kind: unknown): kind is MetricKind {
  return kind === 'counter' || kind === 'histogram' || kind === 'gauge';
}

/**
 * Turns a session attribute into a tag value the way Codex does, rather than dropping the
 * point: every character outside the tag alphabet becomes `_`, and the result is cut to
 * {@link MAX_TAG_VALUE_LENGTH}. Returns `null` for an empty value.
 */
export function sanitizeTagValue(value: string): string | null {
  const cleaned = value.replace(/[^A-Za-z0-9._/-]/g, '_').slice(0, MAX_TAG_VALUE_LENGTH);
  return cleaned === '' ? null : cleaned;
}

export function checkSessionId(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_SESSION_ID_LENGTH) {
    return `params.sessionId: must be a non-empty string of at most ${MAX_SESSION_ID_LENGTH} characters`;
  }
  return null;
}

/** Checks `session/start` params. */
export function checkSessionStartParams(params: unknown): Checked<SessionStart.Params> {
  if (!isPlainObject(params)) return { ok: false, message: 'params: must be an object with a "sessionId"' };
  const idProblem = checkSessionId(params.sessionId);
  if (idProblem !== null) return { ok: false, message: idProblem };
  const attributes = params.attributes ?? {};
  if (!isPlainObject(attributes)) return { ok: false, message: 'params.attributes: must be an object of string values' };
  const keys = Object.keys(attributes);
  if (keys.length > MAX_SESSION_ATTRIBUTES) return { ok: false, message: `params.attributes: has more than ${MAX_SESSION_ATTRIBUTES} attributes` };
  for (const key of keys) {
    if (key.length > MAX_TAG_KEY_LENGTH || !TAG_TEXT.test(key)) {
      return { ok: false, message: `params.attributes.${JSON.stringify(key.slice(0, 64))}: key must be 1 to ${MAX_TAG_KEY_LENGTH} characters of A-Z a-z 0-9 . _ / -` };
    }
    const value = attributes[key];
    if (typeof value !== 'string') return { ok: false, message: `params.attributes.${key}: must be a string` };
    if (value.length > MAX_SESSION_ATTRIBUTE_LENGTH) return { ok: false, message: `params.attributes.${key}: exceeds ${MAX_SESSION_ATTRIBUTE_LENGTH} characters` };
  }
  const logUserPrompt = params.logUserPrompt;
  if (logUserPrompt !== undefined && typeof logUserPrompt !== 'boolean') return { ok: false, message: 'params.logUserPrompt: must be true or false' };
  return {
    ok: true,
    value: {
      sessionId: params.sessionId as string,
      attributes: attributes as Record<string, string>,
      ...(logUserPrompt === undefined ? {} : { logUserPrompt }),
    },
  };
}

/** Checks params that name one session: `session/end`, `session/summary`. */
export function checkSessionIdParams(params: unknown): Checked<SessionEnd.Params> {
  if (!isPlainObject(params)) return { ok: false, message: 'params: must be an object with a "sessionId"' };
  const idProblem = checkSessionId(params.sessionId);
  if (idProblem !== null) return { ok: false, message: idProblem };
  return { ok: true, value: { sessionId: params.sessionId as string } };
}

/** Event attribute keys: Codex's field names (`http.response.status_code`, `event.kind`). */
const ATTRIBUTE_KEY = /^[A-Za-z0-9._/-]+$/;
const ATTRIBUTE_BAGS = ['attributes', 'logOnly', 'traceSafe'] as const;

/**
 * Checks one event of a batch. Returns `null` when `raw` is a valid {@link SessionEvent};
 * otherwise the rejection code and a message naming `events[index]`, the field and the rule.
 * `traceparent` and `tracestate` are not checked here: a malformed one is ignored, not fatal.
 */
export function sessionEventProblem(raw: unknown, index: number): RecordProblem | null {
  if (!isPlainObject(raw)) return { code: 'invalid_event', message: `events[${index}]: must be an object` };
  const sessionId = raw.sessionId;
  if (typeof sessionId !== 'string' || sessionId.length === 0 || sessionId.length > MAX_SESSION_ID_LENGTH) {
    return problem(index, 'invalid_session_id', 'sessionId', `must be a non-empty string of at most ${MAX_SESSION_ID_LENGTH} characters`, 'events');
  }
  const nameProblem = metricNameProblem(raw.name);
  if (nameProblem !== null) return problem(index, 'invalid_name', 'name', nameProblem, 'events');
  const time = raw.time;
  // Bounded by the Date range: the daemon turns an event's time into a date and nanoseconds.
  if (time !== undefined && !isEpochMs(time)) return problem(index, 'invalid_time', 'time', TIME_RULE, 'events');
  const duration = raw.durationMs;
  if (duration !== undefined && (typeof duration !== 'number' || !Number.isFinite(duration) || duration < 0)) {
    return problem(index, 'invalid_duration', 'durationMs', 'must be a non-negative number of milliseconds', 'events');
  }
  let count = 0;
  for (const bag of ATTRIBUTE_BAGS) {
    // The field is named only when a bag is at fault: checking a valid event makes no text.
    const found = bagFlaw(raw[bag], count, MAX_EVENT_ATTRIBUTES, 'the event', MAX_EVENT_ATTRIBUTE_LENGTH);
    if (typeof found !== 'number') return named(`events[${index}].${bag}`, found);
    count = found;
  }
  return null;
}

/** What is wrong with a bag of attributes, before the bag is named: the key at fault, if one is. */
interface BagFlaw {
  readonly code: RejectionCode;
  /** The key as the message names it after the bag's field (`.key`, or `."key"` quoted when it is not a valid one). */
  readonly key?: string;
  readonly rule: string;
}

/** A bag's flaw as a problem, named by the bag's field. */
function named(field: string, { code, key, rule }: BagFlaw): RecordProblem {
  return { code, message: `${field}${key === undefined ? '' : `.${key}`}: ${rule}` };
}

/** {@link attributesProblem} without naming the bag: the count so far, or what is wrong. */
function bagFlaw(attributes: unknown, counted: number, max: number, owner: string, maxLength: number): number | BagFlaw {
  if (attributes === undefined) return counted;
  if (!isPlainObject(attributes)) return { code: 'invalid_attributes', rule: 'must be an object of string, number or boolean values' };
  let count = counted;
  for (const key in attributes) {
    if (++count > max) return { code: 'too_many_attributes', rule: `${owner} has more than ${max} attributes` };
    if (!validAttributeKeys.has(key)) {
      if (key.length > MAX_EVENT_ATTRIBUTE_KEY_LENGTH || !ATTRIBUTE_KEY.test(key)) {
        return { code: 'invalid_attributes', key: JSON.stringify(key.slice(0, 64)), rule: `key must be 1 to ${MAX_EVENT_ATTRIBUTE_KEY_LENGTH} characters of A-Z a-z 0-9 . _ / -` };
      }
      if (key === RESERVED_KEY) return { code: 'invalid_attributes', key: JSON.stringify(key), rule: RESERVED_KEY_RULE };
      remember(validAttributeKeys, key);
    }
    const value = attributes[key];
    if (typeof value === 'string') {
      if (value.length > maxLength) return { code: 'attribute_too_long', key, rule: `value of ${value.length} characters exceeds ${maxLength}` };
    } else if (typeof value === 'number') {
      if (!Number.isFinite(value)) return { code: 'invalid_attributes', key, rule: 'must be a finite number' };
    } else if (typeof value !== 'boolean') {
      return { code: 'invalid_attributes', key, rule: 'must be a string, a number or a boolean' };
    }
  }
  return count;
}

/**
 * Checks one bag of attributes (string, number or boolean values under keys of the attribute
 * alphabet), `undefined` being an empty one. `counted` attributes came before it in bags
 * checked together, of which `max` may be had in all. Returns the count so far, or the problem
 * with a message naming `field` and the key.
 */
export function attributesProblem(attributes: unknown, field: string, counted: number, max: number, owner: string, maxLength = MAX_EVENT_ATTRIBUTE_LENGTH): number | RecordProblem {
  const found = bagFlaw(attributes, counted, max, owner, maxLength);
  return typeof found === 'number' ? found : named(field, found);
}

/** Events in `params.events` when it is an array, else 0. */
export function eventCount(params: unknown): number {
  const events = typeof params === 'object' && params !== null ? (params as { events?: unknown }).events : undefined;
  return Array.isArray(events) ? events.length : 0;
}

/** A checked batch of items of one kind: the valid ones with their index, the rejections, the client's drop counts. */
export interface CheckedItems<T> {
  /** Valid items, in batch order, with their index in the batch. */
  readonly items: { readonly index: number; readonly item: T }[];
  readonly received: number;
  readonly rejected: BatchRejection[];
  readonly dropped: ReadonlyMap<string, number>;
}

export type CheckedEventBatch = CheckedItems<SessionEvent>;

/**
 * Checks a batch whose items are checked one by one (`session/event`'s `events`, `trace/span`'s
 * `spans`). A malformed envelope (not an object, the list not an array, more than `max` items, a
 * bad `dropped`) fails as a whole; otherwise each bad item is rejected alone, in batch order.
 */
export function checkItemBatch<T>(
  params: unknown,
  list: string,
  max: number,
  problemOf: (raw: unknown, index: number) => RecordProblem | null,
): Checked<CheckedItems<T>> & { tooLarge?: boolean } {
  if (!isPlainObject(params)) return { ok: false, message: `params: must be an object with ${/^[aeiou]/.test(list) ? 'an' : 'a'} "${list}" array` };
  const raw = params[list];
  if (!Array.isArray(raw)) return { ok: false, message: `params.${list}: must be an array` };
  if (raw.length > max) return { ok: false, tooLarge: true, message: `params.${list}: ${raw.length} ${list} exceed the batch limit of ${max}` };
  const dropped = checkDropped(params.dropped);
  if (typeof dropped === 'string') return { ok: false, message: dropped };
  const items: { index: number; item: T }[] = [];
  const rejected: BatchRejection[] = [];
  for (let index = 0; index < raw.length; index++) {
    const found = problemOf(raw[index], index);
    if (found === null) items.push({ index, item: raw[index] as T });
    else rejected.push({ index, code: found.code, message: found.message });
  }
  return { ok: true, value: { items, received: raw.length, rejected, dropped } };
}

/**
 * Checks `session/event` params. A malformed envelope (not an object, `events` not an array,
 * more than {@link MAX_BATCH_EVENTS} events) fails as a whole; otherwise each bad event is
 * rejected alone.
 */
export function checkEventBatch(params: unknown): Checked<CheckedEventBatch> & { tooLarge?: boolean } {
  return checkItemBatch<SessionEvent>(params, 'events', MAX_BATCH_EVENTS, sessionEventProblem);
}
