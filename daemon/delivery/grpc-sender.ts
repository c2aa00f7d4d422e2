/**
 * Sends one already-serialised OTLP export request (protobuf bytes) over gRPC, and says what
 * came of it the way the OTLP specification classifies gRPC outcomes: retryable (UNAVAILABLE,
 * DEADLINE_EXCEEDED, ..., and RESOURCE_EXHAUSTED when the server sends RetryInfo), or permanent.
 * The bytes are sent as they are: a batch is serialised once, however often it is retried.
 */
import type * as Grpc from '@grpc/grpc-js';

import type { Signal } from '../../protocol/index.js';
import { ProtobufReader, WIRE } from '../protobuf.js';
import { permanent, retryable, SENT, type Sender } from './sender.js';

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

/**
 * The delay of a `google.rpc.RetryInfo` in the `grpc-status-details-bin` trailer (a
 * `google.rpc.Status` whose details hold it), in milliseconds; null when there is none.
 */
export function retryInfoDelayMs(statusDetails: Uint8Array | undefined): number | null {
  if (statusDetails === undefined) return null;
  try {
    const status = new ProtobufReader(statusDetails);
    while (!status.done) {
      const { field, wire } = status.tag();
      // google.rpc.Status: details (3) are Any messages, a type URL (1) and a value (2).
      if (field !== 3 || wire !== WIRE.bytes) {
        status.skip(wire);
        continue;
      }
      const any = status.message();
      let typeUrl = '';
      let value: ProtobufReader | null = null;
      while (!any.done) {
        const part = any.tag();
        if (part.field === 1 && part.wire === WIRE.bytes) typeUrl = any.string();
        else if (part.field === 2 && part.wire === WIRE.bytes) value = any.message();
        else any.skip(part.wire);
      }
      if (!typeUrl.endsWith('google.rpc.RetryInfo')) continue;
      // proto3 leaves an empty message out: RetryInfo{} means "retry, with no delay given".
      let seconds = 0;
      let nanos = 0;
      while (value !== null && !value.done) {
        const part = value.tag();
        if (part.field !== 1 || part.wire !== WIRE.bytes) {
          value.skip(part.wire);
          continue;
        }
        // RetryInfo.retry_delay, a Duration: seconds (1) and nanos (2).
        const duration = value.message();
        while (!duration.done) {
          const inner = duration.tag();
          if (inner.field === 1 && inner.wire === WIRE.varint) seconds = Number(duration.int64());
          else if (inner.field === 2 && inner.wire === WIRE.varint) nanos = Number(duration.int64());
          else duration.skip(inner.wire);
        }
      }
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
          if (error === null) return resolve(SENT);
          const code = error.code ?? 2;
          const message = `${grpc.status[code] ?? `gRPC status ${code}`}: ${error.details || error.message}`.slice(0, 300);
          const retryAfterMs = retryInfoDelayMs(error.metadata?.get('grpc-status-details-bin')[0] as Uint8Array | undefined);
          if (RETRYABLE.has(code) || (code === RESOURCE_EXHAUSTED && retryAfterMs !== null)) resolve(retryable(message, retryAfterMs));
          else resolve(permanent(message));
        });
      });
    },
    close: () => client.close(),
    // grpc-js frames a copy of the bytes to send and holds the bytes themselves only until the
    // call ends (for a retry of its own), before its callback: once the send has settled, their
    // memory may serve the next request.
    releasesBytes: true,
  };
}
