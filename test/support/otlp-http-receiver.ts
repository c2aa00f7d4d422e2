/**
 * A real OTLP/HTTP receiver for end-to-end tests: a `node:http` server that takes
 * `POST /v1/{metrics,logs,traces}` as protobuf (decoded with protobufjs from the same
 * hand-written protos the gRPC receiver uses) or as JSON, and can be told to answer with an error.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

import protobuf from 'protobufjs';

const PROTO_ROOT = fileURLToPath(new URL('./otlp-proto/', import.meta.url));
const TYPES = {
  metrics: ['opentelemetry/proto/collector/metrics/v1/metrics_service.proto', 'opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest'],
  logs: ['opentelemetry/proto/collector/logs/v1/logs_service.proto', 'opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest'],
  traces: ['opentelemetry/proto/collector/trace/v1/trace_service.proto', 'opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'],
} as const;

export type HttpSignal = keyof typeof TYPES;

export interface HttpExport {
  readonly signal: HttpSignal;
  readonly contentType: string;
  readonly headers: IncomingHttpHeaders;
  /** The request decoded to plain objects: protobuf with the .proto's field names in camelCase, as JSON has them. */
  readonly body: Record<string, unknown>;
  /** When it arrived (epoch ms). */
  readonly at: number;
}

export interface OtlpHttpReceiver {
  /** `http://127.0.0.1:PORT`, the base URL an OTLP/HTTP exporter appends `/v1/<signal>` to. */
  readonly endpoint: string;
  /** Exports answered 200, in arrival order. */
  exports(): readonly HttpExport[];
  /** Requests answered with an error status. */
  readonly refused: number;
  /** When each refused request arrived (epoch ms). */
  readonly refusedAt: readonly number[];
  /** Answers what follows with `status` (200 takes the export) and `headers`. */
  setStatus(status: number, headers?: Readonly<Record<string, string>>): void;
  close(): Promise<void>;
}

async function loadType(signal: HttpSignal): Promise<protobuf.Type> {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : `${PROTO_ROOT}${target}`);
  await root.load(TYPES[signal][0], { keepCase: false });
  return root.lookupType(TYPES[signal][1]);
}

/** TLS for the receiver: its certificate and key, and a CA whose client certificates it requires. */
export interface HttpReceiverTls {
  readonly cert: string;
  readonly key: string;
  readonly clientCa?: string;
}

export async function startOtlpHttpReceiver(opts: { tls?: HttpReceiverTls } = {}): Promise<OtlpHttpReceiver> {
  const types = { metrics: await loadType('metrics'), logs: await loadType('logs'), traces: await loadType('traces') };
  const received: HttpExport[] = [];
  let refused = 0;
  const refusedAt: number[] = [];
  let status = 200;
  let extraHeaders: Readonly<Record<string, string>> = {};
  const handle = (request: IncomingMessage, response: ServerResponse): void => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const signal = (request.url ?? '').replace(/^\/v1\//, '') as HttpSignal;
      if (request.method !== 'POST' || !(signal in types)) {
        response.writeHead(404).end();
        return;
      }
      if (status !== 200) {
        refused++;
        refusedAt.push(Date.now());
        response.writeHead(status, extraHeaders).end();
        return;
      }
      const bytes = Buffer.concat(chunks);
      const contentType = String(request.headers['content-type'] ?? '');
      const body = contentType.includes('json')
        ? (JSON.parse(bytes.toString('utf8')) as Record<string, unknown>)
        : (types[signal].toObject(types[signal].decode(bytes), { longs: String, enums: Number, bytes: String, defaults: false }) as Record<string, unknown>);
      received.push({ signal, contentType, headers: request.headers, body, at: Date.now() });
      response.writeHead(200, { 'content-type': contentType.includes('json') ? 'application/json' : 'application/x-protobuf' }).end();
    });
  };
  const tls = opts.tls;
  const server: Server =
    tls === undefined
      ? createServer(handle)
      : createTlsServer({ cert: tls.cert, key: tls.key, ...(tls.clientCa === undefined ? {} : { ca: tls.clientCa, requestCert: true, rejectUnauthorized: true }) }, handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: tls === undefined ? `http://127.0.0.1:${port}` : `https://localhost:${port}`,
    exports: () => received,
    get refused() {
      return refused;
    },
    refusedAt,
    setStatus(next, headers = {}) {
      status = next;
      extraHeaders = headers;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Sum of the sum data points named `name` in the metrics exports (protobuf or JSON). */
export function sumOf(exports: readonly HttpExport[], name: string): number {
  let total = 0;
  for (const entry of exports) {
    if (entry.signal !== 'metrics') continue;
    for (const resource of (entry.body.resourceMetrics as { scopeMetrics?: { metrics?: { name: string; sum?: { dataPoints?: { asDouble?: number; asInt?: string | number }[] } }[] }[] }[]) ?? []) {
      for (const scope of resource.scopeMetrics ?? []) {
        for (const metric of scope.metrics ?? []) {
          if (metric.name !== name) continue;
          for (const point of metric.sum?.dataPoints ?? []) total += Number(point.asDouble ?? point.asInt ?? 0);
        }
      }
    }
  }
  return total;
}
