/**
 * What OTLP's trace, log and metric requests share: attribute values (`AnyValue`, `KeyValue`) in
 * protobuf and in OTLP JSON, ids as hex, times as epoch milliseconds. Values OpenTelemetry JS
 * cannot hold as attributes are carried as near as it can: a 64-bit integer beyond 2^53 as the
 * nearest number, a key-value list or an array of mixed types as its JSON text, bytes as base64.
 */
import type { Attributes, AttributeValue } from '@opentelemetry/api';

import { ProtobufError, ProtobufReader, WIRE } from '../protobuf.js';

/**
 * A record the decoder refused (ids of the wrong length, an end before its start): counted, not
 * thrown out of the request. `units` is how many it counts as: a metric counts its data points.
 */
export class Malformed extends Error {
  constructor(
    message: string,
    readonly units = 1,
  ) {
    super(message);
  }
}

export const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
/** Nanoseconds since the epoch as milliseconds, to the microsecond. */
export const nanosToMs = (nanos: bigint): number => Number(nanos / 1000n) / 1000;

/** An `AnyValue` message; `undefined` when it holds none. */
export function anyValue(reader: ProtobufReader): AttributeValue | undefined {
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
export function attributeOf(reader: ProtobufReader, into: Attributes): void {
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

export type Json = Record<string, unknown>;
export const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
export const list = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);

export function jsonAnyValue(value: unknown): AttributeValue | undefined {
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

export function jsonAttributes(values: unknown): Attributes {
  const attributes: Attributes = {};
  for (const pair of list(values)) {
    if (!isObject(pair) || typeof pair.key !== 'string' || pair.key === '__proto__') continue;
    const value = jsonAnyValue(pair.value);
    if (value !== undefined) attributes[pair.key] = value;
  }
  return attributes;
}


/** Nanoseconds since the epoch as OTLP JSON writes them (a decimal string, or a number); 0 when absent or malformed. */
export function jsonNanos(value: unknown): bigint {
  if (typeof value === 'string' && /^\d+$/.test(value)) return BigInt(value);
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  return 0n;
}

/** What a request decodes to, whatever its signal: per resource its attributes, per scope its items. */
export interface DecodedRequest<T> {
  readonly resources: readonly { readonly resource: Attributes; readonly scopes: readonly { readonly scope: { readonly name: string; readonly version?: string }; readonly items: readonly T[] }[] }[];
  /** Items refused as {@link Malformed}, and why the first was. */
  readonly rejected: number;
  readonly firstProblem: string | null;
}

type Scope = { readonly name: string; readonly version?: string };

/** An `InstrumentationScope` message: its name and version. */
function scopeOf(reader: ProtobufReader): Scope {
  let name = '';
  let version = '';
  while (!reader.done) {
    const { field, wire } = reader.tag();
    if (field === 1 && wire === WIRE.bytes) name = reader.string();
    else if (field === 2 && wire === WIRE.bytes) version = reader.string();
    else reader.skip(wire);
  }
  return version === '' ? { name } : { name, version };
}

/**
 * Walks an OTLP export request in protobuf: every signal's has the same frame (field 1, the
 * resource's; in it field 1, the resource, and field 2, the scope's; in that field 1, the
 * scope, and field 2, an item). `item` decodes one item, throwing {@link Malformed} to refuse
 * it; anything else thrown ends the request (a {@link ProtobufError} when it is not protobuf).
 */
export function decodeProtobufRequest<T>(bytes: Uint8Array, item: (reader: ProtobufReader, scope: Scope) => T): DecodedRequest<T> {
  const request = new ProtobufReader(bytes);
  const resources: { resource: Attributes; scopes: { scope: Scope; items: T[] }[] }[] = [];
  let rejected = 0;
  let firstProblem: string | null = null;
  while (!request.done) {
    const { field, wire } = request.tag();
    if (field !== 1 || wire !== WIRE.bytes) {
      request.skip(wire);
      continue;
    }
    const outer = request.message();
    const resource: Attributes = {};
    const scopes: { scope: Scope; items: T[] }[] = [];
    while (!outer.done) {
      const tag = outer.tag();
      if (tag.field === 1 && tag.wire === WIRE.bytes) {
        const message = outer.message();
        while (!message.done) {
          const inner = message.tag();
          if (inner.field === 1 && inner.wire === WIRE.bytes) attributeOf(message.message(), resource);
          else message.skip(inner.wire);
        }
      } else if (tag.field === 2 && tag.wire === WIRE.bytes) {
        const scoped = outer.message();
        let scope: Scope = { name: '' };
        const items: T[] = [];
        while (!scoped.done) {
          const inner = scoped.tag();
          if (inner.field === 1 && inner.wire === WIRE.bytes) scope = scopeOf(scoped.message());
          else if (inner.field === 2 && inner.wire === WIRE.bytes) {
            const reader = scoped.message();
            try {
              items.push(item(reader, scope));
            } catch (error) {
              if (!(error instanceof Malformed)) throw error;
              rejected += error.units;
              firstProblem ??= error.message;
            }
          } else scoped.skip(inner.wire);
        }
        scopes.push({ scope, items });
      } else outer.skip(tag.wire);
    }
    resources.push({ resource, scopes });
  }
  return { resources, rejected, firstProblem };
}

/**
 * Walks an OTLP JSON export request (already parsed), whose keys name the signal: for traces
 * `resourceSpans`, `scopeSpans`, `spans`. `item` decodes one item as {@link decodeProtobufRequest}'s does.
 */
export function decodeJsonRequest<T>(body: unknown, keys: { readonly resources: string; readonly scopes: string; readonly items: string }, item: (value: unknown, scope: Scope) => T): DecodedRequest<T> {
  if (!isObject(body)) throw new ProtobufError('the body must be a JSON object');
  const resources: { resource: Attributes; scopes: { scope: Scope; items: T[] }[] }[] = [];
  let rejected = 0;
  let firstProblem: string | null = null;
  for (const outer of list(body[keys.resources])) {
    if (!isObject(outer)) continue;
    const resource = jsonAttributes(isObject(outer.resource) ? outer.resource.attributes : undefined);
    const scopes: { scope: Scope; items: T[] }[] = [];
    for (const scoped of list(outer[keys.scopes])) {
      if (!isObject(scoped)) continue;
      const scopeObject = isObject(scoped.scope) ? scoped.scope : {};
      const name = typeof scopeObject.name === 'string' ? scopeObject.name : '';
      const version = typeof scopeObject.version === 'string' ? scopeObject.version : '';
      const scope: Scope = version === '' ? { name } : { name, version };
      const items: T[] = [];
      for (const value of list(scoped[keys.items])) {
        try {
          items.push(item(value, scope));
        } catch (error) {
          if (!(error instanceof Malformed)) throw error;
          rejected += error.units;
          firstProblem ??= error.message;
        }
      }
      scopes.push({ scope, items });
    }
    resources.push({ resource, scopes });
  }
  return { resources, rejected, firstProblem };
}
