/**
 * OTLP trace export requests, as OTLP/HTTP carries them: protobuf (`ExportTraceServiceRequest`,
 * opentelemetry/proto/collector/trace/v1) or OTLP JSON. Both become one shape: per resource its
 * attributes, per scope its name and version, and the spans as the trace lane takes them.
 * Times keep microseconds (the lane's clock is milliseconds with a fraction); attribute values
 * are read as decode-common.ts says.
 */
import type { Attributes } from '@opentelemetry/api';

import type { SpanKindName } from '../../protocol/index.js';
import type { SpanEntry } from '../lane-records.js';
import { attributeOf, decodeJsonRequest, type DecodedRequest, decodeProtobufRequest, hex, isObject, jsonAttributes, jsonNanos, list, Malformed, nanosToMs } from './decode-common.js';
import { type ProtobufError, type ProtobufReader, WIRE } from '../protobuf.js';

/** Per resource its attributes, per scope its spans (as the trace lane takes them). */
export type DecodedTraces = DecodedRequest<SpanEntry>;

/** OTLP's span kinds by number; 0 (unspecified) is taken as internal, as the SDKs do. */
const KINDS: readonly SpanKindName[] = ['internal', 'internal', 'server', 'client', 'producer', 'consumer'];
const STATUS_CODES = ['unset', 'ok', 'error'] as const;

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
  return decodeProtobufRequest(bytes, (reader, scope) => ({ ...span(reader), scope }));
}

// ------------------------------------------------------------------ OTLP JSON

const HEX_TRACE = /^[0-9a-fA-F]{32}$/;
const HEX_SPAN = /^[0-9a-fA-F]{16}$/;

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
  return decodeJsonRequest(body, { resources: 'resourceSpans', scopes: 'scopeSpans', items: 'spans' }, (value, scope) => ({ ...jsonSpan(value), scope }));
}
