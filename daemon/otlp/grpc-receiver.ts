/**
 * The OTLP/gRPC receiver: the same as the OTLP/HTTP one (export-ingest.ts does the work), for
 * senders configured for gRPC. `TraceService/Export`, `LogsService/Export` and
 * `MetricsService/Export` take the protobuf request as bytes (our own decoder reads it).
 *
 *   UNAUTHENTICATED    no `authorization: Bearer <token>` in the metadata
 *   INVALID_ARGUMENT   not an OTLP export request
 *   RESOURCE_EXHAUSTED over the memory limit, with a RetryInfo of 1 s (retried by OTLP senders)
 *   UNAVAILABLE        stopping, or the journal cannot be written (retried by OTLP senders)
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';

import { type ExportOutcome, exportResponse, type OtlpExportIngest, type OtlpSignal } from './export-ingest.js';
import { MAX_OTLP_BODY_BYTES } from './http-receiver.js';
import { encodeBytesField, encodeVarint } from '../protobuf.js';
import { bearerMatches } from './token.js';

export interface OtlpGrpcReceiver {
  /** The address listened on, `host:port`. */
  readonly address: string;
  /** Export calls answered, by gRPC status name. */
  requests(): Readonly<Record<string, number>>;
  close(): Promise<void>;
}

export interface OtlpGrpcReceiverOptions {
  readonly host: string;
  readonly port: number;
  readonly token: string | null;
  readonly ingest: OtlpExportIngest;
  readonly logger: Logger;
}

const SERVICES: Readonly<Record<OtlpSignal, string>> = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
};

/** Bytes in, bytes out: the request is decoded by export-ingest, the response is made there. */
const same = (bytes: Buffer): Buffer => bytes;

/**
 * A `google.rpc.Status` (code, message, and a `google.rpc.RetryInfo` of `seconds` in its
 * details), for the `grpc-status-details-bin` trailer: how a gRPC server asks to be retried later.
 */
export function retryStatusDetails(code: number, message: string, seconds: number): Buffer {
  const duration = Buffer.from([0x08, ...encodeVarint(seconds)]);
  const retryInfo = encodeBytesField(1, duration);
  const any = Buffer.concat([encodeBytesField(1, Buffer.from('type.googleapis.com/google.rpc.RetryInfo')), encodeBytesField(2, retryInfo)]);
  return Buffer.concat([Buffer.from([0x08, ...encodeVarint(code)]), encodeBytesField(2, Buffer.from(message, 'utf8')), encodeBytesField(3, any)]);
}

export async function startOtlpGrpcReceiver(options: OtlpGrpcReceiverOptions): Promise<OtlpGrpcReceiver> {
  const requests = new Map<string, number>();
  const count = (code: grpc.status): void => {
    const name = grpc.status[code] ?? String(code);
    requests.set(name, (requests.get(name) ?? 0) + 1);
  };

  function refuse(callback: grpc.sendUnaryData<Buffer>, outcome: Exclude<ExportOutcome, { kind: 'ok' }>): void {
    if (outcome.kind === 'invalid') {
      count(grpc.status.INVALID_ARGUMENT);
      return callback({ code: grpc.status.INVALID_ARGUMENT, details: outcome.message });
    }
    if (outcome.reason === 'memory') {
      const metadata = new grpc.Metadata();
      metadata.set('grpc-status-details-bin', retryStatusDetails(grpc.status.RESOURCE_EXHAUSTED, outcome.message, 1));
      count(grpc.status.RESOURCE_EXHAUSTED);
      return callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: outcome.message, metadata });
    }
    count(grpc.status.UNAVAILABLE);
    callback({ code: grpc.status.UNAVAILABLE, details: outcome.message });
  }

  function handler(signal: OtlpSignal): grpc.handleUnaryCall<Buffer, Buffer> {
    return (call, callback) => void answer(call, callback);

    async function answer(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>): Promise<void> {
      try {
        if (options.token !== null && !bearerMatches(call.metadata.get('authorization')[0]?.toString(), options.token)) {
          count(grpc.status.UNAUTHENTICATED);
          return callback({ code: grpc.status.UNAUTHENTICATED, details: 'codexd: this OTLP endpoint needs "authorization: Bearer <token>", the token in codexd\'s state folder (otlp-token); see codexd status' });
        }
        const refused = options.ingest.admit();
        if (refused !== null) return refuse(callback, refused);
        const outcome = await options.ingest.take(signal, call.request, 'protobuf');
        if (outcome.kind !== 'ok') return refuse(callback, outcome);
        count(grpc.status.OK);
        callback(null, exportResponse(outcome.rejected, outcome.message));
      } catch (error) {
        options.logger.error({ problem: error instanceof Error ? error.message : String(error) }, 'OTLP export failed');
        count(grpc.status.INTERNAL);
        callback({ code: grpc.status.INTERNAL, details: 'codexd could not handle this request' });
      }
    }
  }

  const server = new grpc.Server({ 'grpc.max_receive_message_length': MAX_OTLP_BODY_BYTES });
  for (const signal of Object.keys(SERVICES) as OtlpSignal[]) {
    const definition = { Export: { path: SERVICES[signal], requestStream: false, responseStream: false, requestSerialize: same, requestDeserialize: same, responseSerialize: same, responseDeserialize: same } };
    server.addService(definition, { Export: handler(signal) });
  }
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(`${host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => (error === null ? resolve(bound) : reject(error))));
  const address = `${host}:${port}`;
  options.logger.info({ address, token: options.token !== null }, 'OTLP/gRPC receiver listening');
  return {
    address,
    requests: () => Object.fromEntries(requests),
    close: () =>
      new Promise<void>((resolve) => {
        server.tryShutdown(() => resolve());
        // A call left hanging by a sender does not hold the stop.
        setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 1000).unref();
      }),
  };
}
