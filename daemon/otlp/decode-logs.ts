/**
 * OTLP log export requests, as OTLP/HTTP carries them: protobuf (`ExportLogsServiceRequest`,
 * opentelemetry/proto/collector/logs/v1) or OTLP JSON. Both become one shape: per resource its
 * attributes, per scope its name and version, and the records as the log lane takes them
 * (before the privacy rules, which log-ingest.ts applies).
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';

import type { LogEntry } from '../lane-records.js';
import { anyValue, attributeOf, type DecodedRequest, decodeJsonRequest, decodeProtobufRequest, hex, isObject, jsonAnyValue, jsonAttributes, jsonNanos, Malformed, nanosToMs } from './decode-common.js';
import { type ProtobufError, type ProtobufReader, WIRE } from '../protobuf.js';

/** Per resource its attributes, per scope its records (as the log lane takes them, before the privacy rules). */
export type DecodedLogs = DecodedRequest<LogEntry>;

/** A log record's span context: both ids or neither, of the right lengths; all zero means none. */
function contextOf(traceId: string, spanId: string): { traceId: string; spanId: string } | null {
  if (traceId === '' && spanId === '') return null;
  if (!/^[0-9a-f]{32}$/.test(traceId) || !/^[0-9a-f]{16}$/.test(spanId)) throw new Malformed('traceId and spanId must be 16 and 8 bytes (32 and 16 hex digits), or both left out');
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return null;
  return { traceId, spanId };
}

function entryOf(fields: { time: bigint; observed: bigint; severityNumber: number; severityText: string; body: AttributeValue | undefined; eventName: string; attributes: Attributes; traceId: string; spanId: string; flags: number | undefined }, scope: LogEntry['scope']): LogEntry {
  if (!Number.isInteger(fields.severityNumber) || fields.severityNumber < 0 || fields.severityNumber > 24) throw new Malformed('severityNumber must be an integer from 0 to 24');
  const context = contextOf(fields.traceId, fields.spanId);
  // A record without an observed time was observed when it was made (the SDKs fill it in).
  const observed = fields.observed === 0n ? fields.time : fields.observed;
  return {
    timeMs: nanosToMs(fields.time),
    observedMs: nanosToMs(observed),
    severityNumber: fields.severityNumber,
    ...(fields.severityText === '' ? {} : { severityText: fields.severityText }),
    ...(fields.body === undefined ? {} : { body: fields.body }),
    ...(fields.eventName === '' ? {} : { eventName: fields.eventName }),
    attributes: fields.attributes,
    ...(context === null ? {} : { ...context, flags: (fields.flags ?? 0) & 0xff }),
    scope,
  };
}

function record(reader: ProtobufReader, scope: LogEntry['scope']): LogEntry {
  const fields = { time: 0n, observed: 0n, severityNumber: 0, severityText: '', body: undefined as AttributeValue | undefined, eventName: '', attributes: {} as Attributes, traceId: '', spanId: '', flags: undefined as number | undefined };
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (wire === WIRE.fixed64 && field === 1) fields.time = reader.fixed64();
    else if (wire === WIRE.fixed64 && field === 11) fields.observed = reader.fixed64();
    else if (wire === WIRE.varint && field === 2) fields.severityNumber = reader.varint();
    else if (wire === WIRE.bytes && field === 3) fields.severityText = reader.string();
    else if (wire === WIRE.bytes && field === 5) fields.body = anyValue(reader.message());
    else if (wire === WIRE.bytes && field === 6) attributeOf(reader.message(), fields.attributes);
    else if (wire === WIRE.fixed32 && field === 8) fields.flags = reader.fixed32();
    else if (wire === WIRE.bytes && field === 9) fields.traceId = hex(reader.bytesField());
    else if (wire === WIRE.bytes && field === 10) fields.spanId = hex(reader.bytesField());
    else if (wire === WIRE.bytes && field === 12) fields.eventName = reader.string();
    else reader.skip(wire);
  }
  return entryOf(fields, scope);
}

/** Decodes a protobuf `ExportLogsServiceRequest`; throws {@link ProtobufError} when it is not one. */
export function decodeLogsRequest(bytes: Uint8Array): DecodedLogs {
  return decodeProtobufRequest(bytes, record);
}

/** Decodes an OTLP JSON logs export request (already parsed); throws {@link ProtobufError} when its shape is not one. */
export function decodeLogsJson(body: unknown): DecodedLogs {
  return decodeJsonRequest(body, { resources: 'resourceLogs', scopes: 'scopeLogs', items: 'logRecords' }, (value, scope) => {
    if (!isObject(value)) throw new Malformed('a log record must be an object');
    return entryOf(
      {
        time: jsonNanos(value.timeUnixNano),
        observed: jsonNanos(value.observedTimeUnixNano),
        severityNumber: Number(value.severityNumber ?? 0),
        severityText: typeof value.severityText === 'string' ? value.severityText : '',
        body: jsonAnyValue(value.body),
        eventName: typeof value.eventName === 'string' ? value.eventName : '',
        attributes: jsonAttributes(value.attributes),
        traceId: typeof value.traceId === 'string' ? value.traceId.toLowerCase() : '',
        spanId: typeof value.spanId === 'string' ? value.spanId.toLowerCase() : '',
        flags: typeof value.flags === 'number' ? value.flags : undefined,
      },
      scope,
    );
  });
}
