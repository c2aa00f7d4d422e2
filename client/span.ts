/**
 * Spans a host makes itself, in the thin client: the span object it holds while the operation
 * runs, and the recorder that starts spans and hands the ended ones to the client as
 * {@link HostSpan}s, which the daemon exports under these very ids.
 *
 *   startSpan(name, {parent}) --> ids (span-ids.ts), parent's trace and sampling
 *        |  setAttribute / addEvent / setStatus: checked and kept as they come
 *        v
 *   end(endTime?) --> HostSpan --> SpanSink.finish --> the client's span queue (span-buffer.ts)
 *
 * Checks cost little: the ids are minted here and never checked again, names need only a length
 * and a well-formedness test, and attribute keys pass the protocol's rule once per distinct key.
 * What fails a check is counted and reported once through the sink; a span that cannot be sent
 * (bad name or time, unsampled parent) is still returned, as a non-recording span that keeps
 * its place in the trace for the children and processes it is passed to. Nothing here throws.
 */
import {
  type AttributeValue,
  type HostSpan,
  isEpochMs,
  MAX_SPAN_ATTRIBUTES,
  MAX_SPAN_EVENTS,
  MAX_SPAN_LINKS,
  MAX_SPAN_SCOPE_LENGTH,
  MAX_SPAN_STATUS_MESSAGE_LENGTH,
  parseTraceparent,
  SPAN_KINDS,
  SPAN_STATUS_CODES,
  type SpanEventRecord,
  type SpanKindName,
  type SpanLink,
  type SpanStatus,
} from '../protocol/index.js';
import { cutText } from './event-buffer.js';
import { keyProblem, nameProblem, now, quoted, weightOf, wireValue } from './span-checks.js';
import { areValidIds, formatTraceparent, newSpanId, newTraceId } from './span-ids.js';
import type { ClientSpan, SpanAttributes, SpanContext, SpanLinkOptions, SpanOptions, SpanRecorder, SpanSink } from './span-types.js';

export type { ClientSpan, SpanAttributes, SpanContext, SpanLinkOptions, SpanOptions, SpanRecorder, SpanSink } from './span-types.js';

/** A writable {@link HostSpan}, filled in once at `end()`. */
type HostSpanDraft = { -readonly [K in keyof HostSpan]: HostSpan[K] };
/**
 * A bag of attributes. Without a prototype, so that a key such as `constructor` or `__proto__`
 * is an attribute like any other (JSON.stringify writes it as one).
 */
type AttributeBag = Record<string, AttributeValue>;

/** The context of a span, whichever way a host gave it; `null` when it is malformed. */
function contextOf(source: unknown): SpanContext | null {
  // A recording span is its own context: no object made per child.
  if (source instanceof RecordingSpan) return source;
  if (source instanceof NonRecordingSpan) return source.spanContext();
  if (typeof source === 'string') {
    const parsed = parseTraceparent(source);
    return parsed === null ? null : { traceId: parsed.traceId, spanId: parsed.spanId, flags: parsed.sampled ? 1 : 0 };
  }
  if (typeof source !== 'object' || source === null) return null;
  const { traceId, spanId, flags } = source as Partial<SpanContext>;
  if (!areValidIds(traceId, spanId) || typeof flags !== 'number' || !Number.isInteger(flags) || flags < 0 || flags > 255) return null;
  return { traceId: traceId as string, spanId: spanId as string, flags: flags & 1 };
}

/** A span that is not sent: it only carries its context on, for children and other processes. */
class NonRecordingSpan implements ClientSpan {
  readonly #context: SpanContext;

  constructor(context: SpanContext) {
    this.#context = context;
  }

  setAttribute(): this {
    return this;
  }

  setAttributes(): this {
    return this;
  }

  addEvent(): this {
    return this;
  }

  setStatus(): this {
    return this;
  }

  end(): void {}

  traceparent(): string {
    return formatTraceparent(this.#context.traceId, this.#context.spanId, this.#context.flags);
  }

  spanContext(): SpanContext {
    return this.#context;
  }

  isRecording(): boolean {
    return false;
  }
}

/** The recorder's state that its spans reach. */
interface RecorderState {
  readonly sink: SpanSink;
  /** Set by `close()`: open spans were counted, and nothing is sent any more. */
  closed: boolean;
  open: number;
}

/**
 * A span being recorded. A class, not a closure per method: a span is made per operation, and
 * eight closures each would be eight allocations on the host's path.
 */
class RecordingSpan implements ClientSpan, SpanContext {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly name: string;
  readonly kind: SpanKindName | undefined;
  readonly startTime: number;
  readonly sessionId: string | undefined;
  /** Sampled: a span that records is always sampled. With the ids, this makes the span its own {@link SpanContext}. */
  readonly flags = 1;
  readonly state: RecorderState;
  attributes: AttributeBag | undefined = undefined;
  attributeCount = 0;
  events: SpanEventRecord[] | undefined = undefined;
  links: SpanLink[] | undefined = undefined;
  status: SpanStatus | undefined = undefined;
  scope: { readonly name: string; readonly version?: string } | undefined = undefined;
  /** Characters held in names and values: what the client's queue bounds. */
  weight: number;
  ended = false;

  constructor(state: RecorderState, traceId: string, parentSpanId: string | undefined, name: string, kind: SpanKindName | undefined, startTime: number, sessionId: string | undefined) {
    this.state = state;
    this.traceId = traceId;
    this.spanId = newSpanId();
    this.parentSpanId = parentSpanId;
    this.name = name;
    this.kind = kind;
    this.startTime = startTime;
    this.sessionId = sessionId;
    this.weight = name.length + (sessionId?.length ?? 0) + 128;
  }

  setAttribute(key: string, value: AttributeValue | undefined): this {
    if (!this.ended && value !== undefined) this.#set(key, value);
    return this;
  }

  setAttributes(attributes: SpanAttributes): this {
    if (this.ended || typeof attributes !== 'object' || attributes === null) return this;
    for (const key in attributes) {
      const value = attributes[key];
      if (value !== undefined) this.#set(key, value);
    }
    return this;
  }

  addEvent(name: string, attributes?: SpanAttributes | number, time?: number): this {
    if (this.ended) return this;
    const { sink } = this.state;
    const events = (this.events ??= []);
    if (events.length >= MAX_SPAN_EVENTS) {
      sink.ignore('invalid_span_event', `codexd: span ${quoted(this.name)} has ${MAX_SPAN_EVENTS} events, the most a span may have; leaving later events out`);
      return this;
    }
    const problem = nameProblem(name);
    if (problem !== null) {
      sink.ignore('invalid_span_event', `codexd: span ${quoted(this.name)}: event name ${quoted(name)} ${problem}; leaving such events out`);
      return this;
    }
    const at = typeof attributes === 'number' ? attributes : (time ?? now());
    if (!isEpochMs(at)) {
      sink.ignore('invalid_span_event', `codexd: span ${quoted(this.name)}: event ${quoted(name)} has time ${String(at)}, not milliseconds since the Unix epoch; leaving such events out`);
      return this;
    }
    const bag = typeof attributes === 'object' ? this.#bag(attributes, 'an event') : undefined;
    events.push(bag === undefined ? { name, time: at } : { name, time: at, attributes: bag });
    this.weight += name.length + 16;
    return this;
  }

  setStatus(status: SpanStatus): this {
    if (this.ended || this.status?.code === 'ok') return this;
    const code = (status as Partial<SpanStatus> | null | undefined)?.code;
    if (!SPAN_STATUS_CODES.includes(code as SpanStatus['code'])) {
      this.state.sink.ignore('invalid_status', `codexd: span ${quoted(this.name)}: status code ${quoted(code)} is not one of ${SPAN_STATUS_CODES.join(', ')}; leaving such statuses out`);
      return this;
    }
    // OpenTelemetry's rules: setting `unset` is ignored, `ok` is final, a description goes with `error` only.
    if (code === 'unset') return this;
    const message = status.message;
    this.status = code === 'error' && typeof message === 'string' ? { code, message: cutText(message, MAX_SPAN_STATUS_MESSAGE_LENGTH) } : { code: code as SpanStatus['code'] };
    return this;
  }

  end(endTime?: number): void {
    if (this.ended) return;
    this.ended = true;
    const { state } = this;
    // Counted as open when the client closed: nothing is sent any more.
    if (state.closed) return;
    state.open--;
    let end: number;
    if (endTime === undefined) {
      // A start time the host gave may be a little ahead of this clock: the span then lasts 0 ms.
      end = Math.max(now(), this.startTime);
    } else if (isEpochMs(endTime) && endTime >= this.startTime) {
      end = endTime;
    } else {
      state.sink.drop('invalid_time', 1, `codexd: span ${quoted(this.name)}: end time ${String(endTime)} is not milliseconds since the Unix epoch at or after its start (${this.startTime}); dropping such spans`);
      return;
    }
    if (this.sessionId !== undefined && !state.sink.isLive(this.sessionId)) {
      state.sink.drop('unknown_session', 1, `codexd: session ${this.sessionId} has ended; dropping its spans that end later`);
      return;
    }
    state.sink.finish(this.#toHostSpan(end), this.weight);
  }

  traceparent(): string {
    return formatTraceparent(this.traceId, this.spanId, 1);
  }

  spanContext(): SpanContext {
    return { traceId: this.traceId, spanId: this.spanId, flags: 1 };
  }

  isRecording(): boolean {
    return !this.ended && !this.state.closed;
  }

  /** Links given at the start, each checked; a bad one is left out. */
  addLinks(links: readonly SpanLinkOptions[]): void {
    if (!Array.isArray(links)) return;
    for (const link of links) {
      const list = (this.links ??= []);
      if (list.length >= MAX_SPAN_LINKS) {
        this.state.sink.ignore('invalid_link', `codexd: span ${quoted(this.name)} has more than ${MAX_SPAN_LINKS} links, the most a span may have; leaving the rest out`);
        return;
      }
      const context = contextOf((link as Partial<SpanLinkOptions> | null)?.context);
      if (context === null) {
        this.state.sink.ignore('invalid_link', `codexd: span ${quoted(this.name)}: a link's context is not a span, a span context or a valid traceparent; leaving such links out`);
        continue;
      }
      const bag = this.#bag(link.attributes, 'a link');
      list.push({ traceId: context.traceId, spanId: context.spanId, flags: context.flags, ...(bag === undefined ? {} : { attributes: bag }) });
      this.weight += 64;
    }
  }

  /** Sets one attribute of the span; a bad one, or one too many, is left out, counted and reported once. */
  #set(key: string, value: unknown): void {
    const checked = this.#checked(key, value);
    if (checked === undefined) return;
    const attributes = (this.attributes ??= {});
    // Own keys only: a plain object inherits `constructor`, `toString`, ...
    const old = Object.hasOwn(attributes, key) ? attributes[key] : undefined;
    if (old !== undefined) this.weight -= weightOf(key, old);
    else if (this.attributeCount >= MAX_SPAN_ATTRIBUTES) {
      this.state.sink.ignore('too_many_attributes', `codexd: span ${quoted(this.name)} has ${MAX_SPAN_ATTRIBUTES} attributes, the most a span may have; leaving the rest out`);
      return;
    } else this.attributeCount++;
    attributes[key] = checked;
    this.weight += weightOf(key, checked);
  }

  /** The attributes of an event or a link, each checked (a bad one is left out); `undefined` when none is left. */
  #bag(attributes: SpanAttributes | null | undefined, owner: string): AttributeBag | undefined {
    if (typeof attributes !== 'object' || attributes === null) return undefined;
    let bag: AttributeBag | undefined;
    let count = 0;
    for (const key in attributes) {
      const value = attributes[key];
      if (value === undefined) continue;
      const checked = this.#checked(key, value);
      if (checked === undefined) continue;
      bag ??= {};
      if (!Object.hasOwn(bag, key) && ++count > MAX_SPAN_ATTRIBUTES) {
        this.state.sink.ignore('too_many_attributes', `codexd: span ${quoted(this.name)}: ${owner} has more than ${MAX_SPAN_ATTRIBUTES} attributes; leaving the rest out`);
        break;
      }
      bag[key] = checked;
      this.weight += weightOf(key, checked);
    }
    return bag;
  }

  /** The value as the wire takes it, or `undefined` (counted and reported once) when the key or the value cannot be sent. */
  #checked(key: string, value: unknown): AttributeValue | undefined {
    const keyIssue = keyProblem(key);
    if (keyIssue !== null) {
      this.state.sink.ignore('invalid_attributes', `codexd: span ${quoted(this.name)}: attribute ${quoted(key)}: ${keyIssue}; leaving such attributes out`);
      return undefined;
    }
    const checked = wireValue(value);
    if (checked === undefined) {
      this.state.sink.ignore('invalid_attributes', `codexd: span ${quoted(this.name)}: attribute ${quoted(key)}: value ${quoted(value)} is not a string, a finite number or a boolean; leaving such attributes out`);
    }
    return checked;
  }

  #toHostSpan(endTime: number): HostSpan {
    const span: HostSpanDraft = { traceId: this.traceId, spanId: this.spanId, name: this.name, startTime: this.startTime, endTime };
    if (this.parentSpanId !== undefined) span.parentSpanId = this.parentSpanId;
    if (this.kind !== undefined) span.kind = this.kind;
    if (this.status !== undefined) span.status = this.status;
    if (this.attributes !== undefined) span.attributes = this.attributes;
    if (this.events !== undefined && this.events.length > 0) span.events = this.events;
    if (this.links !== undefined && this.links.length > 0) span.links = this.links;
    if (this.sessionId !== undefined) span.sessionId = this.sessionId;
    if (this.scope !== undefined) span.scope = this.scope;
    return span;
  }
}

/** Creates the recorder of one client's spans. */
export function createSpanRecorder(sink: SpanSink): SpanRecorder {
  const state: RecorderState = { sink, closed: false, open: 0 };

  /** The parent's context, `undefined` for a root, or a malformed parent counted and dropped. */
  function parentOf(options: SpanOptions | undefined, name: unknown): SpanContext | undefined {
    const parent = options?.parent as unknown;
    // An unset TRACEPARENT (undefined or empty) is no parent, not a malformed one.
    if (parent === undefined || parent === null || parent === '') return undefined;
    const context = contextOf(parent);
    if (context !== null) return context;
    sink.ignore('invalid_trace_context', `codexd: span ${quoted(name)}: the parent is not a span, a span context or a valid traceparent (${quoted(typeof parent === 'string' ? parent : typeof parent)}); starting a new trace`);
    return undefined;
  }

  /** A span that records nothing, under the parent's trace so that its children still belong there. */
  function nonRecording(parent: SpanContext | undefined, flags: number): ClientSpan {
    return new NonRecordingSpan({ traceId: parent?.traceId ?? newTraceId(), spanId: newSpanId(), flags });
  }

  return {
    start(name, options, sessionId) {
      const parent = parentOf(options, name);
      if (state.closed) {
        sink.drop('client_undeliverable', 1, 'codexd: a span started after close() is not sent');
        return nonRecording(parent, parent?.flags ?? 1);
      }
      if (parent !== undefined && (parent.flags & 1) === 0) {
        sink.notSampled();
        return nonRecording(parent, 0);
      }
      const problem = nameProblem(name);
      if (problem !== null) {
        sink.drop('invalid_name', 1, `codexd: span name ${quoted(name)} ${problem}; dropping such spans`);
        return nonRecording(parent, 1);
      }
      const startTime = options?.startTime ?? now();
      if (!isEpochMs(startTime)) {
        sink.drop('invalid_time', 1, `codexd: span ${quoted(name)}: start time ${String(startTime)} is not milliseconds since the Unix epoch; dropping such spans`);
        return nonRecording(parent, 1);
      }
      let kind = options?.kind;
      if (kind !== undefined && !SPAN_KINDS.includes(kind)) {
        sink.ignore('invalid_kind', `codexd: span ${quoted(name)}: kind ${quoted(kind)} is not one of ${SPAN_KINDS.join(', ')}; sending it as internal`);
        kind = undefined;
      }
      const span = new RecordingSpan(state, parent?.traceId ?? newTraceId(), parent?.spanId, name, kind, startTime, sessionId);
      state.open++;
      if (options?.attributes !== undefined) span.setAttributes(options.attributes);
      if (options?.links !== undefined) span.addLinks(options.links);
      const scope = options?.scope;
      if (scope !== undefined) {
        const valid = typeof scope.name === 'string' && scope.name.length > 0 && scope.name.length <= MAX_SPAN_SCOPE_LENGTH && (scope.version === undefined || (typeof scope.version === 'string' && scope.version.length <= MAX_SPAN_SCOPE_LENGTH));
        if (valid) span.scope = scope.version === undefined ? { name: scope.name } : { name: scope.name, version: scope.version };
        else sink.ignore('invalid_span', `codexd: span ${quoted(name)}: scope ${quoted(scope.name)} is not {name, version?} of 1 to ${MAX_SPAN_SCOPE_LENGTH} characters; sending it under codex`);
      }
      return span;
    },
    refuse(reason, message, options) {
      sink.drop(reason, 1, message);
      const parent = parentOf(options, undefined);
      return nonRecording(parent, parent?.flags ?? 1);
    },
    get open() {
      return state.open;
    },
    close() {
      if (state.closed) return 0;
      state.closed = true;
      const open = state.open;
      state.open = 0;
      return open;
    },
  };
}
