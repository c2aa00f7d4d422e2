/**
 * A real OTLP/gRPC receiver for end-to-end tests: it decodes exports with the
 * hand-written protos in ./otlp-proto/, so a test can see exactly what went over
 * the wire instead of trusting an in-process exporter mock.
 *
 * It answers an export as soon as it has its bytes and decodes them when they are
 * read (`logsRequests`, `spans()`, ...): a collector that keeps up, whatever the
 * speed of decoding in JavaScript beside a benchmark's clients. A sender is timed
 * against the gRPC transport, not against this decoder.
 */
import type { ServerHttp2Session } from 'node:http2';
import { fileURLToPath } from 'node:url';
import { setImmediate as nextTurn, setTimeout as delay } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export type ReceiverBehavior = 'ok' | 'unavailable' | 'hang';

/**
 * A decoded AnyValue. Scalars cover what metric attributes normally carry; the
 * rest exists because resource detectors emit arrays (process.command_args) and
 * the OTLP schema allows nested lists, bytes and empty values.
 */
export type AttributeValue =
  | string
  | number
  | boolean
  | null
  | Uint8Array
  | readonly AttributeValue[]
  | { readonly [key: string]: AttributeValue };

export type Attributes = Record<string, AttributeValue>;

export type MetricKind = 'sum' | 'gauge' | 'histogram' | 'exponential_histogram' | 'summary';
export type Temporality = 'delta' | 'cumulative' | 'unspecified';

export interface ExponentialBuckets {
  offset: number;
  bucketCounts: number[];
}

export interface MetricPoint {
  name: string;
  kind: MetricKind;
  /** Absent for gauges and summaries, which carry no temporality in OTLP. */
  temporality?: Temporality;
  /** Only sums carry a monotonic flag. */
  monotonic?: boolean;
  unit: string;
  attributes: Attributes;
  /** Sum/gauge value; absent when the point has the no-recorded-value flag. */
  value?: number;
  count?: number;
  sum?: number;
  bucketCounts?: number[];
  explicitBounds?: number[];
  min?: number;
  max?: number;
  /** Exponential-histogram bucket layout; bucketCounts is not used for them. */
  exponential?: {
    scale: number;
    zeroCount: number;
    zeroThreshold: number;
    positive: ExponentialBuckets;
    negative: ExponentialBuckets;
  };
  /** Summary quantiles. */
  quantiles?: { quantile: number; value: number }[];
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
  resource: Attributes;
  scope: string;
}

export type AttributeFilter = Record<string, string | number | boolean>;

/** One received log record, flattened with its resource and scope. */
export interface LogRecordReceived {
  eventName: string;
  body: AttributeValue;
  severityText: string;
  attributes: Attributes;
  /** The attributes' keys as they came, in order: a key sent twice is here twice. */
  attributeKeys: string[];
  /** Hex; empty when the record has no trace context. */
  traceId: string;
  spanId: string;
  timeUnixNano: bigint;
  resource: Attributes;
  scope: string;
}

/** One received span, flattened with its resource and scope. */
export interface SpanReceived {
  name: string;
  traceId: string;
  spanId: string;
  /** Hex; empty for a root span. */
  parentSpanId: string;
  traceState: string;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  /** The attributes' keys as they came, in order: a key sent twice is here twice. */
  attributeKeys: string[];
  events: { name: string; attributes: Attributes; timeUnixNano: bigint }[];
  /** The proto enum's name: `SPAN_KIND_INTERNAL`, `SPAN_KIND_SERVER`, ... */
  kind: string;
  /** `STATUS_CODE_UNSET`, `STATUS_CODE_OK` or `STATUS_CODE_ERROR`, and the message. */
  status: { code: string; message: string };
  links: { traceId: string; spanId: string; traceState: string; attributes: Attributes }[];
  /** The span's 32-bit flags: W3C trace flags in the low byte. */
  flags: number;
  resource: Attributes;
  scope: string;
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:PORT`; the scheme makes the OTLP exporters use plaintext. */
  readonly endpoint: string;
  readonly port: number;
  /**
   * Decoded ExportMetricsServiceRequest objects, in arrival order (snake_case fields): those
   * received since the last read are decoded by it. The same array each time, so a caller may
   * empty it.
   */
  readonly metricsRequests: unknown[];
  /** Decoded ExportLogsServiceRequest objects, as `metricsRequests`. */
  readonly logsRequests: unknown[];
  /** Decoded ExportTraceServiceRequest objects, as `metricsRequests`. */
  readonly tracesRequests: unknown[];
  /** Export calls answered with UNAVAILABLE (behavior 'unavailable'); their data is not recorded. */
  readonly rejectedCalls: number;
  /** Export calls received while behavior was 'hang'; their data is not recorded. */
  readonly hungCalls: number;
  readonly behavior: ReceiverBehavior;
  points(): MetricPoint[];
  logRecords(): LogRecordReceived[];
  spans(): SpanReceived[];
  /**
   * Total of every received sum point named `name` whose attributes include all of
   * `filter`. Adding every export is right only for delta (or unspecified)
   * temporality, so cumulative points make it throw instead of double-counting.
   */
  sumOf(name: string, filter?: AttributeFilter): number;
  /** count and sum added over all (exponential) histogram points; same temporality rule as sumOf. */
  histogramTotals(name: string, filter?: AttributeFilter): { count: number; sum: number };
  /**
   * Hands each request of `signal` received so far to `each`, decoded, and forgets it, with a
   * turn of the event loop after each decode: for a caller that counts a flood as it comes.
   * Decoding a second's worth at once kept this process from answering export calls for longer
   * than a sender's deadline, and a sender retries a call it timed out (the receiver has it
   * twice then). Requests that arrive meanwhile wait for the next call.
   */
  consume(signal: Signal, each: (request: unknown) => void): Promise<void>;
  /** Polls every 20 ms; `what` only improves the timeout message. */
  waitFor(predicate: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  /**
   * 'unavailable' answers every Export with gRPC UNAVAILABLE (14); 'hang' never
   * answers. Leaving 'hang' answers the held calls with UNAVAILABLE so a client
   * blocked on them can move on without waiting for its deadline.
   */
  setBehavior(behavior: ReceiverBehavior): void;
  /** Releases held calls and force-shuts the server; safe to call repeatedly. */
  close(): Promise<void>;
}

type Signal = 'metrics' | 'logs' | 'traces';

const EMPTY = Buffer.alloc(0);

const PROTO_ROOT = fileURLToPath(new URL('./otlp-proto/', import.meta.url));

const SERVICES: readonly { signal: Signal; file: string; service: string }[] = [
  {
    signal: 'metrics',
    file: 'opentelemetry/proto/collector/metrics/v1/metrics_service.proto',
    service: 'opentelemetry.proto.collector.metrics.v1.MetricsService',
  },
  {
    signal: 'logs',
    file: 'opentelemetry/proto/collector/logs/v1/logs_service.proto',
    service: 'opentelemetry.proto.collector.logs.v1.LogsService',
  },
  {
    signal: 'traces',
    file: 'opentelemetry/proto/collector/trace/v1/trace_service.proto',
    service: 'opentelemetry.proto.collector.trace.v1.TraceService',
  },
];

/**
 * keepCase: decoded objects use the .proto field names (resource_metrics,
 * time_unix_nano), so they read like the spec and like collector debug output.
 * longs: String keeps 64-bit counters and nanosecond timestamps exact; they are
 * converted to bigint/Number (range-checked) when flattened.
 * oneofs: adds the discriminator fields (`data`, `value`, `_sum`) the decoder reads.
 */
const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
};

let loading: Promise<protoLoader.PackageDefinition> | undefined;

function loadDefinitions(): Promise<protoLoader.PackageDefinition> {
  loading ??= protoLoader
    .load(
      SERVICES.map((s) => s.file),
      LOADER_OPTIONS,
    )
    .catch((err: unknown) => {
      // A failed load must not poison every later receiver in the same worker.
      loading = undefined;
      throw err;
    });
  return loading;
}

/** How a request's bytes become the decoded object. */
type Decode = (bytes: Buffer) => unknown;

/**
 * The service as proto-loader defines it, except that `Export` hands its handler the request's
 * bytes; `decode` is the definition's own deserializer, for when they are read.
 */
function serviceDefinition(pkg: protoLoader.PackageDefinition, name: string): { definition: grpc.ServiceDefinition; decode: Decode } {
  const def = pkg[name];
  if (def === undefined || 'format' in def || def.Export === undefined) {
    throw new Error(`OTLP protos under ${PROTO_ROOT} do not define service ${name}`);
  }
  const exportMethod = def.Export;
  return { definition: { ...def, Export: { ...exportMethod, requestDeserialize: (bytes: Buffer) => bytes } }, decode: exportMethod.requestDeserialize };
}

/** TLS for the receiver: its certificate and key, and a CA whose client certificates it requires. */
export interface ReceiverTls {
  readonly cert: string;
  readonly key: string;
  readonly clientCa?: string;
}

export async function startOtlpReceiver(opts: { port?: number; tls?: ReceiverTls } = {}): Promise<OtlpReceiver> {
  const definitions = await loadDefinitions();
  const server = new grpc.Server();
  const services = SERVICES.map(({ signal, service }) => ({ signal, ...serviceDefinition(definitions, service) }));
  const receiver = new Receiver(server, Object.fromEntries(services.map(({ signal, decode }) => [signal, decode])) as Record<Signal, Decode>);
  for (const { signal, definition } of services) server.addService(definition, { Export: receiver.handler(signal) });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const tls = opts.tls;
      const credentials =
        tls === undefined
          ? grpc.ServerCredentials.createInsecure()
          : grpc.ServerCredentials.createSsl(tls.clientCa === undefined ? null : Buffer.from(tls.clientCa), [{ cert_chain: Buffer.from(tls.cert), private_key: Buffer.from(tls.key) }], tls.clientCa !== undefined);
      server.bindAsync(`127.0.0.1:${opts.port ?? 0}`, credentials, (err, bound) => {
        if (err) reject(err);
        else resolve(bound);
      });
    });
    receiver.port = port;
    openWindows(server);
    receiver.scheme = opts.tls === undefined ? 'http' : 'https';
    return receiver;
  } catch (err) {
    server.forceShutdown();
    throw err;
  }
}

/**
 * HTTP/2 flow-control windows the receiver grants a sender: per stream and per connection. A
 * collector built on grpc-go (the OpenTelemetry Collector) grows both from 64 KiB with its
 * estimate of the link's bandwidth-delay product, up to 16 MiB; grpc-js's server keeps Node's
 * 64 KiB. At 64 KiB a 290 KB export request waits on four window updates, each a turn of this
 * receiver's event loop, which beside a benchmark's clients can be milliseconds.
 */
export const WINDOW_BYTES = 16 * 1024 * 1024;

/**
 * Grants every connection's streams, and the connection itself, {@link WINDOW_BYTES}. grpc-js
 * takes no option for it, so this reaches its HTTP/2 servers (`http2Servers`, a private field)
 * and fails loudly if that ever changes rather than leave the windows small unnoticed.
 */
function openWindows(server: grpc.Server): void {
  type SessionSource = { on(event: 'session', listener: (session: ServerHttp2Session) => void): unknown };
  const servers = (server as unknown as { http2Servers?: Map<SessionSource, unknown> }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) throw new Error('OTLP receiver: grpc-js no longer keeps its HTTP/2 servers in `http2Servers`; set the flow-control windows another way');
  for (const http2Server of servers.keys()) {
    http2Server.on('session', (session) => {
      session.settings({ initialWindowSize: WINDOW_BYTES });
      session.setLocalWindowSize(WINDOW_BYTES);
    });
  }
}

interface HeldCall {
  call: grpc.ServerUnaryCall<unknown, unknown>;
  callback: grpc.sendUnaryData<unknown>;
}

class Receiver implements OtlpReceiver {
  port = 0;
  /** Per signal: the requests decoded, and the bytes of those received since (decoded on the next read). */
  private readonly received: Record<Signal, { readonly decoded: unknown[]; undecoded: Buffer[] }> = {
    metrics: { decoded: [], undecoded: [] },
    logs: { decoded: [], undecoded: [] },
    traces: { decoded: [], undecoded: [] },
  };
  rejectedCalls = 0;
  hungCalls = 0;
  behavior: ReceiverBehavior = 'ok';
  private readonly held = new Set<HeldCall>();
  private closed = false;

  // A plain field rather than a parameter property: the benchmark runs this file with Node's
  // type stripping, which accepts only erasable TypeScript.
  private readonly server: grpc.Server;
  /** Each signal's `Export` deserializer, for the bytes when they are read. */
  private readonly decoders: Record<Signal, Decode>;

  constructor(server: grpc.Server, decoders: Record<Signal, Decode>) {
    this.server = server;
    this.decoders = decoders;
  }

  /** `https` when the receiver was started with TLS: then its certificate is for `localhost`. */
  scheme: 'http' | 'https' = 'http';

  get endpoint(): string {
    return this.scheme === 'https' ? `https://localhost:${this.port}` : `http://127.0.0.1:${this.port}`;
  }

  get metricsRequests(): unknown[] {
    return this.requestsFor('metrics');
  }

  get logsRequests(): unknown[] {
    return this.requestsFor('logs');
  }

  get tracesRequests(): unknown[] {
    return this.requestsFor('traces');
  }

  handler(signal: Signal): grpc.handleUnaryCall<Buffer, unknown> {
    return (call, callback) => {
      switch (this.behavior) {
        case 'ok':
          this.received[signal].undecoded.push(call.request);
          // An empty response means full success; partial_success stays unset.
          callback(null, {});
          return;
        case 'unavailable':
          this.rejectedCalls++;
          callback({
            code: grpc.status.UNAVAILABLE,
            details: `OTLP test receiver rejected the ${signal} export (behavior 'unavailable')`,
          });
          return;
        case 'hang': {
          this.hungCalls++;
          const held: HeldCall = { call, callback };
          this.held.add(held);
          call.once('cancelled', () => this.held.delete(held));
          return;
        }
      }
    };
  }

  setBehavior(behavior: ReceiverBehavior): void {
    this.behavior = behavior;
    if (behavior !== 'hang') this.releaseHeld(`OTLP test receiver stopped hanging (behavior '${behavior}')`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.releaseHeld('OTLP test receiver closed');
    this.server.forceShutdown();
  }

  points(): MetricPoint[] {
    return this.metricsRequests.flatMap(flattenMetricsRequest);
  }

  logRecords(): LogRecordReceived[] {
    return this.logsRequests.flatMap(flattenLogsRequest);
  }

  spans(): SpanReceived[] {
    return this.tracesRequests.flatMap(flattenTracesRequest);
  }

  sumOf(name: string, filter: AttributeFilter = {}): number {
    let total = 0;
    for (const p of this.matching(name, filter, ['sum'], 'sumOf')) total += p.value ?? 0;
    return total;
  }

  histogramTotals(name: string, filter: AttributeFilter = {}): { count: number; sum: number } {
    const totals = { count: 0, sum: 0 };
    for (const p of this.matching(name, filter, ['histogram', 'exponential_histogram'], 'histogramTotals')) {
      totals.count += p.count ?? 0;
      totals.sum += p.sum ?? 0;
    }
    return totals;
  }

  async consume(signal: Signal, each: (request: unknown) => void): Promise<void> {
    const received = this.received[signal];
    for (const request of received.decoded.splice(0)) each(request);
    const undecoded = received.undecoded;
    received.undecoded = [];
    for (let i = 0; i < undecoded.length; i++) {
      const bytes = undecoded[i] as Buffer;
      // Each request's bytes go from the list as it is decoded, not once all are: a flood's add up.
      undecoded[i] = EMPTY;
      each(this.decoders[signal](bytes));
      await nextTurn();
    }
  }

  async waitFor(predicate: () => boolean, timeoutMs = 10_000, what?: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (predicate()) return;
      if (Date.now() >= deadline) {
        const label = what === undefined ? '' : ` for ${what}`;
        throw new Error(`OTLP receiver waitFor${label} timed out after ${timeoutMs} ms; ${this.describe()}`);
      }
      await delay(20);
    }
  }

  /** The signal's decoded requests, after decoding those received since the last read. */
  private requestsFor(signal: Signal): unknown[] {
    const received = this.received[signal];
    if (received.undecoded.length > 0) {
      const undecoded = received.undecoded;
      received.undecoded = [];
      for (const bytes of undecoded) received.decoded.push(this.decoders[signal](bytes));
    }
    return received.decoded;
  }

  private matching(name: string, filter: AttributeFilter, kinds: readonly MetricKind[], helper: string): MetricPoint[] {
    const selected = this.points().filter(
      (p) => p.name === name && kinds.includes(p.kind) && Object.entries(filter).every(([k, v]) => p.attributes[k] === v),
    );
    if (selected.some((p) => p.temporality === 'cumulative')) {
      throw new Error(
        `${helper}('${name}') got cumulative points; adding every export would double-count, inspect points() instead`,
      );
    }
    return selected;
  }

  private releaseHeld(reason: string): void {
    for (const held of this.held) {
      if (!held.call.cancelled) held.callback({ code: grpc.status.UNAVAILABLE, details: reason });
    }
    this.held.clear();
  }

  /** State summary for timeout messages, so a failing wait says what did arrive. */
  private describe(): string {
    let seen: string;
    try {
      const names = new Map<string, MetricKind>();
      for (const p of this.points()) names.set(p.name, p.kind);
      seen = names.size === 0 ? 'none' : [...names].map(([n, k]) => `${n} (${k})`).join(', ');
    } catch (err) {
      seen = `undecodable: ${err instanceof Error ? err.message : String(err)}`;
    }
    return (
      `behavior '${this.behavior}', requests received: metrics=${this.metricsRequests.length} ` +
      `logs=${this.logsRequests.length} traces=${this.tracesRequests.length}, ` +
      `rejectedCalls=${this.rejectedCalls}, hungCalls=${this.hungCalls}, metrics seen: ${seen}`
    );
  }
}

// ---- decoding of proto-loader output (plain objects typed as unknown) ----

type Obj = Readonly<Record<string, unknown>>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function field(o: unknown, key: string): unknown {
  return isObj(o) ? o[key] : undefined;
}

function list(v: unknown): readonly unknown[] {
  return Array.isArray(v) ? v : [];
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function dbl(v: unknown, what: string): number {
  if (typeof v !== 'number') throw new TypeError(`OTLP decode: ${what} is not a double: ${String(v)}`);
  return v;
}

/** 64-bit integers arrive as decimal strings because of `longs: String`. */
function toBigInt(v: unknown, what: string): bigint {
  if (typeof v === 'string' || typeof v === 'number') return BigInt(v);
  throw new TypeError(`OTLP decode: ${what} is not an integer: ${String(v)}`);
}

/** Refuses to round, so a count past 2^53 fails loudly rather than compare wrong. */
function toExactNumber(v: unknown, what: string): number {
  const big = toBigInt(v, what);
  if (big > BigInt(Number.MAX_SAFE_INTEGER) || big < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`OTLP decode: ${what} = ${big} cannot be represented exactly as a JS number`);
  }
  return Number(big);
}

/** proto3 `optional` fields are synthetic oneofs: present only when `_name` names them. */
function optionalDouble(o: unknown, key: string): number | undefined {
  return field(o, `_${key}`) === key ? dbl(field(o, key), key) : undefined;
}

export function anyValueToJs(v: unknown): AttributeValue {
  const which = field(v, 'value');
  switch (which) {
    case 'string_value':
      return str(field(v, 'string_value'));
    case 'bool_value':
      return field(v, 'bool_value') === true;
    case 'int_value':
      return toExactNumber(field(v, 'int_value'), 'AnyValue.int_value');
    case 'double_value':
      return dbl(field(v, 'double_value'), 'AnyValue.double_value');
    case 'array_value':
      return list(field(field(v, 'array_value'), 'values')).map(anyValueToJs);
    case 'kvlist_value':
      return attributesToJs(field(field(v, 'kvlist_value'), 'values'));
    case 'bytes_value': {
      const bytes = field(v, 'bytes_value');
      return bytes instanceof Uint8Array ? bytes : new Uint8Array();
    }
    case undefined:
      // OTLP allows an empty AnyValue; it stands for an absent value.
      return null;
    default:
      throw new TypeError(`OTLP decode: unknown AnyValue variant ${String(which)}`);
  }
}

/** The keys of KeyValues in their order, repeats kept. */
function keysOf(keyValues: unknown): string[] {
  return list(keyValues).map((kv) => str(field(kv, 'key')));
}

export function attributesToJs(keyValues: unknown): Attributes {
  const out: Attributes = {};
  for (const kv of list(keyValues)) out[str(field(kv, 'key'))] = anyValueToJs(field(kv, 'value'));
  return out;
}

function temporalityOf(v: unknown): Temporality {
  switch (v) {
    case 'AGGREGATION_TEMPORALITY_DELTA':
    case 1:
      return 'delta';
    case 'AGGREGATION_TEMPORALITY_CUMULATIVE':
    case 2:
      return 'cumulative';
    default:
      return 'unspecified';
  }
}

function exponentialBuckets(b: unknown, what: string): ExponentialBuckets {
  return {
    offset: typeof field(b, 'offset') === 'number' ? Number(field(b, 'offset')) : 0,
    bucketCounts: list(field(b, 'bucket_counts')).map((c) => toExactNumber(c, `${what}.bucket_counts`)),
  };
}

function flattenMetricsRequest(request: unknown): MetricPoint[] {
  const out: MetricPoint[] = [];
  for (const rm of list(field(request, 'resource_metrics'))) {
    const resource = attributesToJs(field(field(rm, 'resource'), 'attributes'));
    for (const sm of list(field(rm, 'scope_metrics'))) {
      const scope = str(field(field(sm, 'scope'), 'name'));
      for (const metric of list(field(sm, 'metrics'))) {
        const name = str(field(metric, 'name'));
        const kind = field(metric, 'data');
        if (kind !== 'sum' && kind !== 'gauge' && kind !== 'histogram' && kind !== 'exponential_histogram' && kind !== 'summary') {
          throw new TypeError(`OTLP decode: metric ${name} has no known data variant (got ${String(kind)})`);
        }
        const data = field(metric, kind);
        for (const dp of list(field(data, 'data_points'))) {
          const what = `${name} data point`;
          const point: MetricPoint = {
            name,
            kind,
            unit: str(field(metric, 'unit')),
            attributes: attributesToJs(field(dp, 'attributes')),
            startTimeUnixNano: toBigInt(field(dp, 'start_time_unix_nano'), `${what}.start_time_unix_nano`),
            timeUnixNano: toBigInt(field(dp, 'time_unix_nano'), `${what}.time_unix_nano`),
            resource,
            scope,
          };
          if (kind !== 'gauge' && kind !== 'summary') {
            point.temporality = temporalityOf(field(data, 'aggregation_temporality'));
          }
          switch (kind) {
            case 'sum':
            case 'gauge': {
              if (kind === 'sum') point.monotonic = field(data, 'is_monotonic') === true;
              const which = field(dp, 'value');
              if (which === 'as_double') point.value = dbl(field(dp, 'as_double'), `${what}.as_double`);
              else if (which === 'as_int') point.value = toExactNumber(field(dp, 'as_int'), `${what}.as_int`);
              break;
            }
            case 'histogram':
            case 'exponential_histogram': {
              point.count = toExactNumber(field(dp, 'count'), `${what}.count`);
              const sum = optionalDouble(dp, 'sum');
              const min = optionalDouble(dp, 'min');
              const max = optionalDouble(dp, 'max');
              if (sum !== undefined) point.sum = sum;
              if (min !== undefined) point.min = min;
              if (max !== undefined) point.max = max;
              if (kind === 'histogram') {
                point.bucketCounts = list(field(dp, 'bucket_counts')).map((c) => toExactNumber(c, `${what}.bucket_counts`));
                point.explicitBounds = list(field(dp, 'explicit_bounds')).map((b) => dbl(b, `${what}.explicit_bounds`));
              } else {
                point.exponential = {
                  scale: typeof field(dp, 'scale') === 'number' ? Number(field(dp, 'scale')) : 0,
                  zeroCount: toExactNumber(field(dp, 'zero_count'), `${what}.zero_count`),
                  zeroThreshold: dbl(field(dp, 'zero_threshold'), `${what}.zero_threshold`),
                  positive: exponentialBuckets(field(dp, 'positive'), `${what}.positive`),
                  negative: exponentialBuckets(field(dp, 'negative'), `${what}.negative`),
                };
              }
              break;
            }
            case 'summary':
              point.count = toExactNumber(field(dp, 'count'), `${what}.count`);
              point.sum = dbl(field(dp, 'sum'), `${what}.sum`);
              point.quantiles = list(field(dp, 'quantile_values')).map((q) => ({
                quantile: dbl(field(q, 'quantile'), `${what}.quantile`),
                value: dbl(field(q, 'value'), `${what}.value`),
              }));
              break;
          }
          out.push(point);
        }
      }
    }
  }
  return out;
}

function hex(v: unknown): string {
  return v instanceof Uint8Array ? Buffer.from(v).toString('hex') : '';
}

function flattenLogsRequest(request: unknown): LogRecordReceived[] {
  const out: LogRecordReceived[] = [];
  for (const rl of list(field(request, 'resource_logs'))) {
    const resource = attributesToJs(field(field(rl, 'resource'), 'attributes'));
    for (const sl of list(field(rl, 'scope_logs'))) {
      const scope = str(field(field(sl, 'scope'), 'name'));
      for (const record of list(field(sl, 'log_records'))) {
        out.push({
          eventName: str(field(record, 'event_name')),
          body: anyValueToJs(field(record, 'body')),
          severityText: str(field(record, 'severity_text')),
          attributes: attributesToJs(field(record, 'attributes')),
          attributeKeys: keysOf(field(record, 'attributes')),
          traceId: hex(field(record, 'trace_id')),
          spanId: hex(field(record, 'span_id')),
          timeUnixNano: toBigInt(field(record, 'time_unix_nano'), 'LogRecord.time_unix_nano'),
          resource,
          scope,
        });
      }
    }
  }
  return out;
}

function flattenTracesRequest(request: unknown): SpanReceived[] {
  const out: SpanReceived[] = [];
  for (const rs of list(field(request, 'resource_spans'))) {
    const resource = attributesToJs(field(field(rs, 'resource'), 'attributes'));
    for (const ss of list(field(rs, 'scope_spans'))) {
      const scope = str(field(field(ss, 'scope'), 'name'));
      for (const span of list(field(ss, 'spans'))) {
        out.push({
          name: str(field(span, 'name')),
          traceId: hex(field(span, 'trace_id')),
          spanId: hex(field(span, 'span_id')),
          parentSpanId: hex(field(span, 'parent_span_id')),
          traceState: str(field(span, 'trace_state')),
          startTimeUnixNano: toBigInt(field(span, 'start_time_unix_nano'), 'Span.start_time_unix_nano'),
          endTimeUnixNano: toBigInt(field(span, 'end_time_unix_nano'), 'Span.end_time_unix_nano'),
          attributes: attributesToJs(field(span, 'attributes')),
          attributeKeys: keysOf(field(span, 'attributes')),
          events: list(field(span, 'events')).map((event) => ({
            name: str(field(event, 'name')),
            attributes: attributesToJs(field(event, 'attributes')),
            timeUnixNano: toBigInt(field(event, 'time_unix_nano'), 'Span.Event.time_unix_nano'),
          })),
          // enums: String gives the proto names (SPAN_KIND_SERVER, STATUS_CODE_ERROR).
          kind: str(field(span, 'kind')),
          status: { code: str(field(field(span, 'status'), 'code')), message: str(field(field(span, 'status'), 'message')) },
          links: list(field(span, 'links')).map((link) => ({
            traceId: hex(field(link, 'trace_id')),
            spanId: hex(field(link, 'span_id')),
            traceState: str(field(link, 'trace_state')),
            attributes: attributesToJs(field(link, 'attributes')),
          })),
          flags: Number(field(span, 'flags') ?? 0),
          resource,
          scope,
        });
      }
    }
  }
  return out;
}
