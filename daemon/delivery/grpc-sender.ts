/**
 * Sends one already-serialised OTLP export request (protobuf bytes) over gRPC, and says what
 * came of it the way the OTLP specification classifies gRPC outcomes: retryable (UNAVAILABLE,
 * DEADLINE_EXCEEDED, ..., and RESOURCE_EXHAUSTED when the server sends RetryInfo), or permanent.
 * The bytes are sent as they are: a batch is serialised once, however often it is retried.
 */
import type * as Grpc from '@grpc/grpc-js';

import type { Signal } from '../../protocol/index.js';

export type SendOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'retryable'; readonly message: string; readonly retryAfterMs: number | null }
  | { readonly kind: 'permanent'; readonly message: string };

export interface Sender {
  /** Sends one request; resolves (never rejects) within `timeoutMs`. */
  send(bytes: Uint8Array, timeoutMs: number): Promise<SendOutcome>;
  close(): void;
}

const PATHS: Readonly<Record<Signal, string>> = {
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
};

/** Status codes the OTLP specification says to retry (RESOURCE_EXHAUSTED only with RetryInfo). */
const RETRYABLE = new Set([1 /* CANCELLED */, 4 /* DEADLINE_EXCEEDED */, 10 /* ABORTED */, 11 /* OUT_OF_RANGE */, 14 /* UNAVAILABLE */, 15 /* DATA_LOSS */]);
const RESOURCE_EXHAUSTED = 8;
/** Longest wait a collector's RetryInfo is honoured for. */
export const MAX_RETRY_INFO_MS = 60 * 60 * 1000;

/** Reads a protobuf varint at `offset`; returns the value and the offset after it. */
function varint(bytes: Uint8Array, offset: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let at = offset; at < bytes.length && at < offset + 10; at++) {
    const byte = bytes[at] as number;
    value += (byte & 0x7f) * scale;
    scale *= 128;
    if ((byte & 0x80) === 0) return [value, at + 1];
  }
  throw new Error('truncated varint');
}

/** The fields of one protobuf message, by number: varints as numbers, length-delimited as bytes. */
function fields(bytes: Uint8Array): Map<number, (number | Uint8Array)[]> {
  const found = new Map<number, (number | Uint8Array)[]>();
  let offset = 0;
  while (offset < bytes.length) {
    const [key, afterKey] = varint(bytes, offset);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    let value: number | Uint8Array;
    if (wire === 0) [value, offset] = varint(bytes, afterKey);
    else if (wire === 2) {
      const [length, afterLength] = varint(bytes, afterKey);
      value = bytes.subarray(afterLength, afterLength + length);
      offset = afterLength + length;
    } else if (wire === 1) {
      value = 0;
      offset = afterKey + 8;
    } else if (wire === 5) {
      value = 0;
      offset = afterKey + 4;
    } else throw new Error(`unsupported wire type ${wire}`);
    found.set(field, [...(found.get(field) ?? []), value]);
  }
  return found;
}

/**
 * The delay of a `google.rpc.RetryInfo` in the `grpc-status-details-bin` trailer (a
 * `google.rpc.Status` whose details hold it), in milliseconds; null when there is none.
 */
export function retryInfoDelayMs(statusDetails: Uint8Array | undefined): number | null {
  if (statusDetails === undefined) return null;
  try {
    for (const detail of fields(statusDetails).get(3) ?? []) {
      if (!(detail instanceof Uint8Array)) continue;
      const any = fields(detail);
      const typeUrl = any.get(1)?.[0];
      const value = any.get(2)?.[0];
      if (!(typeUrl instanceof Uint8Array) || !Buffer.from(typeUrl).toString('utf8').endsWith('google.rpc.RetryInfo')) continue;
      // proto3 leaves an empty message out: RetryInfo{} means "retry, with no delay given".
      if (!(value instanceof Uint8Array)) return 0;
      const duration = fields(value).get(1)?.[0];
      if (!(duration instanceof Uint8Array)) return 0;
      const parts = fields(duration);
      const seconds = Number(parts.get(1)?.[0] ?? 0);
      const nanos = Number(parts.get(2)?.[0] ?? 0);
      // A collector asking for more than an hour is taken as asking for an hour.
      return Math.min(MAX_RETRY_INFO_MS, Math.max(0, Math.round(seconds * 1000 + nanos / 1e6)));
    }
  } catch {
    // A malformed trailer is as good as none.
  }
  return null;
}

export interface GrpcSenderOptions {
  readonly signal: Signal;
  /** `http://host:port` (plaintext) or `https://host:port` (TLS with the system's roots). */
  readonly endpoint: string;
  readonly headers: Readonly<Record<string, string>>;
  /** With an https:// endpoint: a custom CA, and a client certificate with its key (PEM). */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
}

/** Loads `@grpc/grpc-js` and opens a channel to the collector; it connects on the first send. */
export async function createGrpcSender(options: GrpcSenderOptions): Promise<Sender> {
  const grpc: typeof Grpc = await import('@grpc/grpc-js');
  const url = new URL(options.endpoint);
  const address = `${url.hostname}:${url.port === '' ? (url.protocol === 'https:' ? '443' : '80') : url.port}`;
  const pem = (text: string | undefined): Buffer | null => (text === undefined ? null : Buffer.from(text));
  const tls = options.tls;
  const credentials = url.protocol === 'https:' ? grpc.credentials.createSsl(pem(tls?.ca), pem(tls?.key), pem(tls?.cert)) : grpc.credentials.createInsecure();
  const client = new grpc.Client(address, credentials);
  const identity = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    send(bytes, timeoutMs) {
      return new Promise((resolve) => {
        const metadata = new grpc.Metadata();
        for (const [name, value] of Object.entries(options.headers)) metadata.set(name.toLowerCase(), value);
        client.makeUnaryRequest(PATHS[options.signal], identity, (response: Buffer) => response, bytes, metadata, { deadline: Date.now() + timeoutMs }, (error) => {
          if (error === null) return resolve({ kind: 'ok' });
          const code = error.code ?? 2;
          const message = `${grpc.status[code] ?? `gRPC status ${code}`}: ${error.details || error.message}`.slice(0, 300);
          const retryAfterMs = retryInfoDelayMs(error.metadata?.get('grpc-status-details-bin')[0] as Uint8Array | undefined);
          if (RETRYABLE.has(code) || (code === RESOURCE_EXHAUSTED && retryAfterMs !== null)) resolve({ kind: 'retryable', message, retryAfterMs });
          else resolve({ kind: 'permanent', message });
        });
      });
    },
    close: () => client.close(),
  };
}
