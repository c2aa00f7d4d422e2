/**
 * OTLP trace export requests, as OTLP/HTTP carries them: protobuf (`ExportTraceServiceRequest`,
 * opentelemetry/proto/collector/trace/v1) or OTLP JSON. Both become one shape: per resource its
 * attributes, per scope its name and version, and the spans as the trace lane takes them.
 *
 * Values OpenTelemetry JS cannot hold as attributes are carried as near as it can: a 64-bit
 * integer beyond 2^53 as the nearest number, a key-value list as its JSON text, bytes as base64.
 * Times keep microseconds (the lane's clock is milliseconds with a fraction).
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';

import type { SpanKindName } from '../../protocol/index.js';
import type { SpanEntry } from '../lane-records.js';
import { ProtobufError, ProtobufReader, WIRE } from './protobuf-reader.js';

export interface OtlpScopeSpans {
  readonly scope: { readonly name: string; readonly version?: string };
  readonly spans: readonly SpanEntry[];
}

export interface OtlpResourceSpans {
  readonly resource: Attributes;
  readonly scopes: readonly OtlpScopeSpans[];
}

export interface DecodedTraces {
  readonly resources: readonly OtlpResourceSpans[];
  /** Spans refused as malformed (ids of the wrong length or all zero), and why the first was. */
  readonly rejected: number;
  readonly firstProblem: string | null;
}

/** OTLP's span kinds by number; 0 (unspecified) is taken as internal, as the SDKs do. */
const KINDS: readonly SpanKindName[] = ['internal', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUS_CODES = ['unset', 'ok', 'error'] as const;

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const nanosToMs = (nanos: bigint): number => Number(nanos / 1000n) / 1000;

class Malformed extends Error {}

// ------------------------------------------------------------------ protobuf

function anyValue(reader: ProtobufReader): AttributeValue | undefined {
  let value: AttributeValue | undefined;
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 1 && wire === WIRE.bytes) value = reader.string();
    else if (field === 2 && wire === WIRE.varint) value = reader.varint() !== 0;
    else if (field === 3 && wire === WIRE.varint) value = Number(reader.int64());
    else if (field === 4 && wire === WIRE.fixed64) value = reader.double();
    else if (field === 5 && wire === WIRE.bytes) value = arrayValue(reader.message());
    else if (field === 6 && wire === WIRE.bytes) value = JSON.stringify(keyValues(reader.message()));
    else if (field === 7 && wire === WIRE.bytes) value = Buffer.from(reader.bytesField()).toString('base64');
    else reader.skip(wire);
  }
  return value;
}

/** An array of scalars of one type, as OpenTelemetry JS holds them; anything else as JSON text. */
function arrayValue(reader: ProtobufReader): AttributeValue {
  const values: unknown[] = [];
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 1 && wire === WIRE.bytes) values.push(anyValue(reader.message()) ?? null);
    else reader.skip(wire);
  }
  return homogeneous(values);
}

function homogeneous(values: unknown[]): AttributeValue {
  const type = typeof values[0];
  if ((type === 'string' || type === 'number' || type === 'boolean') && values.every((value) => typeof value === type)) return values as AttributeValue;
  return JSON.stringify(values);
}

/** A `KeyValueList`: its KeyValues (field 1). */
function keyValues(reader: ProtobufReader): Attributes {
  const attributes: Attributes = {};
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 1 && wire === WIRE.bytes) attributeOf(reader.message(), attributes);
    else reader.skip(wire);
  }
  return attributes;
}

/** One `KeyValue` message, added to `into` (a key OpenTelemetry JS cannot hold, or no value, is left out). */
function attributeOf(reader: ProtobufReader, into: Attributes): void {
  let key: string | undefined;
  let value: AttributeValue | undefined;
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 1 && wire === WIRE.bytes) key = reader.string();
    else if (field === 2 && wire === WIRE.bytes) value = anyValue(reader.message());
    else reader.skip(wire);
  }
  if (key !== undefined && value !== undefined && key !== '__proto__') into[key] = value;
}

function checkedIds(traceId: Uint8Array, spanId: Uint8Array): void {
  if (traceId.length !== 16 || traceId.every((byte) => byte === 0)) throw new Malformed('traceId must be 16 bytes, not all zero');
  if (spanId.length !== 8 || spanId.every((byte) => byte === 0)) throw new Malformed('spanId must be 8 bytes, not all zero');
}

function span(reader: ProtobufReader): SpanEntry {
  let traceId: Uint8Array = new Uint8Array();
  let spanId: Uint8Array = new Uint8Array();
  let parent: Uint8Array | undefined;
  let tracestate: string | undefined;
  let flags = 1;
  let name = '';
  let kind: SpanKindName = 'internal';
  let start = 0n;
  let end = 0n;
  const attributes: Attributes = {};
  const events: { name: string; time: number; attributes: Attributes }[] = [];
  const links: { traceId: string; spanId: string; tracestate?: string; flags?: number; attributes: Attributes }[] = [];
  let status: SpanEntry['status'] = { code: 'unset' };
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (wire === WIRE.bytes && field === 1) traceId = reader.bytesField();
    else if (wire === WIRE.bytes && field === 2) spanId = reader.bytesField();
    else if (wire === WIRE.bytes && field === 3) tracestate = reader.string();
    else if (wire === WIRE.bytes && field === 4) parent = reader.bytesField();
    else if (wire === WIRE.fixed32 && field === 16) flags = reader.fixed32() & 0xff;
    else if (wire === WIRE.bytes && field === 5) name = reader.string();
    else if (wire === WIRE.varint && field === 6) kind = KINDS[reader.varint()] ?? 'internal';
    else if (wire === WIRE.fixed64 && field === 7) start = reader.fixed64();
    else if (wire === WIRE.fixed64 && field === 8) end = reader.fixed64();
    else if (wire === WIRE.bytes && field === 9) attributeOf(reader.message(), attributes);
    else if (wire === WIRE.bytes && field === 11) {
      const event = reader.message();
      let eventName = '';
      let time = 0n;
      const eventAttributes: Attributes = {};
      while (!event.done) {
        const inner = event.tag();
        if (inner.wire === WIRE.fixed64 && inner.field === 1) time = event.fixed64();
        else if (inner.wire === WIRE.bytes && inner.field === 2) eventName = event.string();
        else if (inner.wire === WIRE.bytes && inner.field === 3) attributeOf(event.message(), eventAttributes);
        else event.skip(inner.wire);
      }
      events.push({ name: eventName, time: nanosToMs(time), attributes: eventAttributes });
    } else if (wire === WIRE.bytes && field === 13) {
      const link = reader.message();
      let linkTrace: Uint8Array = new Uint8Array();
      let linkSpan: Uint8Array = new Uint8Array();
      let linkState: string | undefined;
      let linkFlags: number | undefined;
      const linkAttributes: Attributes = {};
      while (!link.done) {
        const inner = link.tag();
        if (inner.wire === WIRE.bytes && inner.field === 1) linkTrace = link.bytesField();
        else if (inner.wire === WIRE.bytes && inner.field === 2) linkSpan = link.bytesField();
        else if (inner.wire === WIRE.bytes && inner.field === 3) linkState = link.string();
        else if (inner.wire === WIRE.bytes && inner.field === 4) attributeOf(link.message(), linkAttributes);
        else if (inner.wire === WIRE.fixed32 && inner.field === 6) linkFlags = link.fixed32() & 0xff;
        else link.skip(inner.wire);
      }
      checkedIds(linkTrace, linkSpan);
      links.push({ traceId: hex(linkTrace), spanId: hex(linkSpan), ...(linkState ? { tracestate: linkState } : {}), ...(linkFlags === undefined ? {} : { flags: linkFlags }), attributes: linkAttributes });
    } else if (wire === WIRE.bytes && field === 15) {
      const message = reader.message();
      let code = 0;
      let text: string | undefined;
      while (!message.done) {
        const inner = message.tag();
        if (inner.wire === WIRE.bytes && inner.field === 2) text = message.string();
        else if (inner.wire === WIRE.varint && inner.field === 3) code = message.varint();
        else message.skip(inner.wire);
      }
      const statusCode = STATUS_CODES[code] ?? 'unset';
      status = statusCode === 'error' && text ? { code: statusCode, message: text } : { code: statusCode };
    } else reader.skip(wire);
  }
  checkedIds(traceId, spanId);
  const parentSpanId = parent !== undefined && parent.length > 0 ? parent : undefined;
  if (parentSpanId !== undefined && (parentSpanId.length !== 8 || parentSpanId.every((byte) => byte === 0))) throw new Malformed('parentSpanId must be 8 bytes, not all zero, or left out');
  if (end < start) throw new Malformed('endTimeUnixNano is before startTimeUnixNano');
  return {
    traceId: hex(traceId),
    spanId: hex(spanId),
    ...(parentSpanId === undefined ? {} : { parentSpanId: hex(parentSpanId) }),
    name,
    kind,
    startMs: nanosToMs(start),
    endMs: nanosToMs(end),
    status,
    attributes,
    events,
    links,
    ...(tracestate ? { tracestate } : {}),
    flags,
  };
}

/** Decodes a protobuf `ExportTraceServiceRequest`; throws {@link ProtobufError} when it is not one. */
export function decodeTraceRequest(bytes: Uint8Array): DecodedTraces {
  const request = new ProtobufReader(bytes);
  const resources: OtlpResourceSpans[] = [];
  let rejected = 0;
  let firstProblem: string | null = null;
  while (!request.done) {
    const { field, wire } = request.tag();
    if (field !== 1 || wire !== WIRE.bytes) {
      request.skip(wire);
      continue;
    }
    const resourceSpans = request.message();
    const resource: Attributes = {};
    const scopes: OtlpScopeSpans[] = [];
    while (!resourceSpans.done) {
      const tag = resourceSpans.tag();
      if (tag.field === 1 && tag.wire === WIRE.bytes) {
        const message = resourceSpans.message();
        while (!message.done) {
          const inner = message.tag();
          if (inner.field === 1 && inner.wire === WIRE.bytes) attributeOf(message.message(), resource);
          else message.skip(inner.wire);
        }
      } else if (tag.field === 2 && tag.wire === WIRE.bytes) {
        const scopeSpans = resourceSpans.message();
        let scope: OtlpScopeSpans['scope'] = { name: '' };
        const spans: SpanEntry[] = [];
        while (!scopeSpans.done) {
          const inner = scopeSpans.tag();
          if (inner.field === 1 && inner.wire === WIRE.bytes) {
            const message = scopeSpans.message();
            let name = '';
            let version: string | undefined;
            while (!message.done) {
              const part = message.tag();
              if (part.field === 1 && part.wire === WIRE.bytes) name = message.string();
              else if (part.field === 2 && part.wire === WIRE.bytes) version = message.string();
              else message.skip(part.wire);
            }
            scope = version ? { name, version } : { name };
          } else if (inner.field === 2 && inner.wire === WIRE.bytes) {
            const reader = scopeSpans.message();
            try {
              spans.push(span(reader));
            } catch (error) {
              if (!(error instanceof Malformed)) throw error;
              rejected++;
              firstProblem ??= error.message;
            }
          } else scopeSpans.skip(inner.wire);
        }
        scopes.push({ scope, spans });
      } else resourceSpans.skip(tag.wire);
    }
    resources.push({ resource, scopes });
  }
  return { resources, rejected, firstProblem };
}

// ------------------------------------------------------------------ OTLP JSON

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

function jsonAnyValue(value: unknown): AttributeValue | undefined {
  if (!isObject(value)) return undefined;
  if (typeof value.stringValue === 'string') return value.stringValue;
  if (typeof value.boolValue === 'boolean') return value.boolValue;
  if (value.intValue !== undefined) {
    const number = Number(value.intValue);
    return Number.isFinite(number) ? number : undefined;
  }
  if (value.doubleValue !== undefined) {
    const number = Number(value.doubleValue);
    return Number.isNaN(number) ? undefined : number;
  }
  if (isObject(value.arrayValue)) return homogeneous(list(value.arrayValue.values).map((item) => jsonAnyValue(item) ?? null));
  if (isObject(value.kvlistValue)) return JSON.stringify(jsonAttributes(value.kvlistValue.values));
  if (typeof value.bytesValue === 'string') return value.bytesValue;
  return undefined;
}

function jsonAttributes(values: unknown): Attributes {
  const attributes: Attributes = {};
  for (const pair of list(values)) {
    if (!isObject(pair) || typeof pair.key !== 'string' || pair.key === '__proto__') continue;
    const value = jsonAnyValue(pair.value);
    if (value !== undefined) attributes[pair.key] = value;
  }
  return attributes;
}

const HEX_TRACE = /^[0-9a-fA-F]{32}$/;
const HEX_SPAN = /^[0-9a-fA-F]{16}$/;

function jsonNanos(value: unknown): bigint {
  if (typeof value === 'string' && /^\d+$/.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  return 0n;
}

function jsonIds(traceId: unknown, spanId: unknown): { traceId: string; spanId: string } {
  if (typeof traceId !== 'string' || !HEX_TRACE.test(traceId) || /^0+$/.test(traceId)) throw new Malformed('traceId must be 32 hex digits, not all zero');
  if (typeof spanId !== 'string' || !HEX_SPAN.test(spanId) || /^0+$/.test(spanId)) throw new Malformed('spanId must be 16 hex digits, not all zero');
  return { traceId: traceId.toLowerCase(), spanId: spanId.toLowerCase() };
}

function jsonSpan(value: unknown): SpanEntry {
  if (!isObject(value)) throw new Malformed('a span must be an object');
  const ids = jsonIds(value.traceId, value.spanId);
  const parent = typeof value.parentSpanId === 'string' && value.parentSpanId !== '' ? value.parentSpanId : undefined;
  if (parent !== undefined && (!HEX_SPAN.test(parent) || /^0+$/.test(parent))) throw new Malformed('parentSpanId must be 16 hex digits, not all zero, or left out');
  const start = jsonNanos(value.startTimeUnixNano);
  const end = jsonNanos(value.endTimeUnixNano);
  if (end < start) throw new Malformed('endTimeUnixNano is before startTimeUnixNano');
  const status = isObject(value.status) ? value.status : {};
  const statusCode = STATUS_CODES[Number(status.code ?? 0)] ?? 'unset';
  return {
    ...ids,
    ...(parent === undefined ? {} : { parentSpanId: parent.toLowerCase() }),
    name: typeof value.name === 'string' ? value.name : '',
    kind: KINDS[Number(value.kind ?? 0)] ?? 'internal',
    startMs: nanosToMs(start),
    endMs: nanosToMs(end),
    status: statusCode === 'error' && typeof status.message === 'string' && status.message !== '' ? { code: statusCode, message: status.message } : { code: statusCode },
    attributes: jsonAttributes(value.attributes),
    events: list(value.events)
      .filter(isObject)
      .map((event) => ({ name: typeof event.name === 'string' ? event.name : '', time: nanosToMs(jsonNanos(event.timeUnixNano)), attributes: jsonAttributes(event.attributes) })),
    links: list(value.links)
      .filter(isObject)
      .map((link) => ({
        ...jsonIds(link.traceId, link.spanId),
        ...(typeof link.traceState === 'string' && link.traceState !== '' ? { tracestate: link.traceState } : {}),
        ...(typeof link.flags === 'number' ? { flags: link.flags & 0xff } : {}),
        attributes: jsonAttributes(link.attributes),
      })),
    ...(typeof value.traceState === 'string' && value.traceState !== '' ? { tracestate: value.traceState } : {}),
    flags: typeof value.flags === 'number' ? value.flags & 0xff : 1,
  };
}

/** Decodes an OTLP JSON trace export request (already parsed); throws {@link ProtobufError} when its shape is not one. */
export function decodeTraceJson(body: unknown): DecodedTraces {
  if (!isObject(body)) throw new ProtobufError('the body must be a JSON object');
  const resources: OtlpResourceSpans[] = [];
  let rejected = 0;
  let firstProblem: string | null = null;
  for (const resourceSpans of list(body.resourceSpans)) {
    if (!isObject(resourceSpans)) continue;
    const resource = jsonAttributes(isObject(resourceSpans.resource) ? resourceSpans.resource.attributes : undefined);
    const scopes: OtlpScopeSpans[] = [];
    for (const scopeSpans of list(resourceSpans.scopeSpans)) {
      if (!isObject(scopeSpans)) continue;
      const scopeObject = isObject(scopeSpans.scope) ? scopeSpans.scope : {};
      const name = typeof scopeObject.name === 'string' ? scopeObject.name : '';
      const version = typeof scopeObject.version === 'string' && scopeObject.version !== '' ? scopeObject.version : undefined;
      const spans: SpanEntry[] = [];
      for (const value of list(scopeSpans.spans)) {
        try {
          spans.push(jsonSpan(value));
        } catch (error) {
          if (!(error instanceof Malformed)) throw error;
          rejected++;
          firstProblem ??= error.message;
        }
      }
      scopes.push({ scope: version === undefined ? { name } : { name, version }, spans });
    }
    resources.push({ resource, scopes });
  }
  return { resources, rejected, firstProblem };
}
