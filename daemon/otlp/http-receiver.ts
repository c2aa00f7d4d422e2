/**
 * The OTLP/HTTP receiver: an unmodified OpenTelemetry SDK (Codex's own exporters) hands its
 * traces and logs to the daemon as it would to a collector, and gets its answer at once from a
 * local process, so its exit never waits on the network. What arrives joins the lanes like what
 * the protocol brings: the catalog's privacy rules, the journal, the durable export queues, the
 * counts.
 *
 *   POST /v1/traces, /v1/logs (protobuf or JSON, gzip or not)
 *     --> bearer token --> memory limiter (429) --> size bounds (413) --> decode (400)
 *     --> span-ingest / log-ingest (each resource and scope as sent) --> journal synced --> 200
 *
 * Metrics are not taken yet: /v1/metrics answers 404, which an SDK logs and counts as failed
 * exports.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gunzip } from 'node:zlib';

import type { Logger } from 'pino';

import type { HostResource, HostResources } from '../host-resources.js';
import type { LogIngest } from '../log-ingest.js';
import type { MemoryGate } from '../memory-limiter.js';
import type { SpanIngest } from '../span-ingest.js';
import type { DecodedRequest } from './decode-common.js';
import { decodeLogsJson, decodeLogsRequest } from './decode-logs.js';
import { decodeTraceJson, decodeTraceRequest } from './decode-traces.js';
import { ProtobufError } from './protobuf-reader.js';
import { bearerMatches } from './token.js';

/** The largest request body taken, as sent (compressed or not); OTLP/HTTP senders cut batches far smaller. */
export const MAX_OTLP_BODY_BYTES = 8 * 1024 * 1024;
/** The largest body once decompressed: a small gzip body may not unfold past this. */
export const MAX_OTLP_DECODED_BYTES = 32 * 1024 * 1024;
/** What a sender refused for memory or a stop is told to wait, in seconds (`Retry-After`). */
const RETRY_AFTER_SECONDS = 1;

export interface OtlpReceiverCounts {
  /** The address listened on, `host:port`. */
  readonly http: string;
  /** Export requests answered, by HTTP status. */
  readonly requests: Readonly<Record<string, number>>;
  /** Spans taken in, by the sender's `service.name` (its resource's). */
  readonly spansBySender: Readonly<Record<string, number>>;
  /** Spans not taken in, by reason: `invalid_span` (malformed), `queue_full` (the trace lane is full). */
  readonly spansRefused: Readonly<Record<string, number>>;
  /** Log records taken in, by the sender's `service.name`. */
  readonly logsBySender: Readonly<Record<string, number>>;
  /** Log records not taken in, by reason: `invalid_log_record` (malformed), `queue_full`. */
  readonly logsRefused: Readonly<Record<string, number>>;
}

export interface OtlpHttpReceiver {
  counts(): OtlpReceiverCounts;
  close(): Promise<void>;
}

export interface OtlpHttpReceiverOptions {
  readonly host: string;
  readonly port: number;
  /** The bearer token a request must carry, or null when the config lets any local sender in. */
  readonly token: string | null;
  readonly spans: SpanIngest;
  readonly logs: LogIngest;
  readonly resources: HostResources;
  readonly memory: MemoryGate;
  /** Makes what was taken in durable before the answer; false when the journal cannot be written. */
  syncJournal(): boolean;
  isShuttingDown(): boolean;
  readonly logger: Logger;
}

const bump = (map: Map<string, number>, key: string, by = 1): void => void map.set(key, (map.get(key) ?? 0) + by);

/**
 * An `ExportTraceServiceResponse` or `ExportLogsServiceResponse` (the same shape): empty, or with
 * a partial success (field 1: rejected_spans or rejected_log_records = 1, error_message = 2).
 */
function protobufResponse(rejected: number, message: string): Buffer {
  if (rejected === 0) return Buffer.alloc(0);
  const text = Buffer.from(message, 'utf8');
  const varint = (value: number): number[] => {
    const bytes: number[] = [];
    let rest = value;
    while (rest >= 0x80) {
      bytes.push((rest & 0x7f) | 0x80);
      rest = Math.floor(rest / 128);
    }
    bytes.push(rest);
    return bytes;
  };
  const inner = Buffer.from([0x08, ...varint(rejected), 0x12, ...varint(text.length)]);
  const partial = Buffer.concat([inner, text]);
  return Buffer.concat([Buffer.from([0x0a, ...varint(partial.length)]), partial]);
}

export async function startOtlpHttpReceiver(options: OtlpHttpReceiverOptions): Promise<OtlpHttpReceiver> {
  const requests = new Map<string, number>();
  const bySender = { traces: new Map<string, number>(), logs: new Map<string, number>() };
  const refused = { traces: new Map<string, number>(), logs: new Map<string, number>() };
  const { logger } = options;

  function answer(response: ServerResponse, status: number, json: boolean, body: Buffer | string, headers: Record<string, string> = {}): void {
    bump(requests, String(status));
    if (response.headersSent) return;
    response.writeHead(status, { 'content-type': json || typeof body === 'string' ? 'application/json' : 'application/x-protobuf', ...headers });
    response.end(body);
  }

  function fail(response: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
    // OTLP/HTTP: an error answer carries a google.rpc.Status; as JSON, its `message` is what a person reads.
    answer(response, status, true, JSON.stringify({ code: status, message }), headers);
  }

  async function body(request: IncomingMessage): Promise<Buffer | 'too_large'> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_OTLP_BODY_BYTES) return 'too_large';
      chunks.push(chunk);
    }
    return Buffer.concat(chunks);
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '').split('?')[0];
    if (request.method !== 'POST') return fail(response, 405, 'codexd takes OTLP export requests as POST');
    if (options.token !== null && !bearerMatches(request.headers.authorization, options.token)) {
      return fail(response, 401, 'codexd: this OTLP endpoint needs "authorization: Bearer <token>", the token in codexd\'s state folder (otlp-token); see codexd status');
    }
    if (path === '/v1/metrics') return fail(response, 404, 'codexd does not take metrics over OTLP yet; only traces (/v1/traces) and logs (/v1/logs)');
    if (path !== '/v1/traces' && path !== '/v1/logs') return fail(response, 404, `codexd takes OTLP traces at /v1/traces and logs at /v1/logs, not ${path}`);
    const signal = path === '/v1/traces' ? 'traces' : 'logs';
    const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    const json = type === 'application/json';
    if (!json && type !== 'application/x-protobuf') return fail(response, 415, 'content-type must be application/x-protobuf or application/json');
    const encoding = (request.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity' && encoding !== 'gzip') return fail(response, 415, 'content-encoding must be gzip or left out');
    if (options.isShuttingDown()) return fail(response, 503, 'codexd is stopping; send again to the next daemon', { 'retry-after': String(RETRY_AFTER_SECONDS) });
    if (options.memory.holding()) return fail(response, 429, 'codexd is over its memory limit; send again later', { 'retry-after': String(RETRY_AFTER_SECONDS) });
    const raw = await body(request);
    if (raw === 'too_large') return fail(response, 413, `the request body exceeds ${MAX_OTLP_BODY_BYTES} bytes`);
    let bytes = raw;
    if (encoding === 'gzip') {
      try {
        bytes = await new Promise<Buffer>((resolve, reject) => gunzip(raw, { maxOutputLength: MAX_OTLP_DECODED_BYTES }, (error, out) => (error === null ? resolve(out) : reject(error))));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ERR_BUFFER_TOO_LARGE') return fail(response, 413, `the request body unpacks past ${MAX_OTLP_DECODED_BYTES} bytes`);
        return fail(response, 400, `the body is not valid gzip: ${(error as Error).message}`);
      }
    }
    let outcome: { rejected: number; firstProblem: string | null; full: number; bySender: Map<string, number> };
    try {
      const parsed: unknown = json ? JSON.parse(bytes.toString('utf8')) : null;
      outcome =
        signal === 'traces'
          ? take(json ? decodeTraceJson(parsed) : decodeTraceRequest(bytes), options.spans.ingestOtlp)
          : take(json ? decodeLogsJson(parsed) : decodeLogsRequest(bytes), options.logs.ingestOtlp);
    } catch (error) {
      if (error instanceof ProtobufError || error instanceof SyntaxError) return fail(response, 400, `the body is not an OTLP ${signal === 'traces' ? 'trace' : 'logs'} export request: ${error.message}`);
      throw error;
    }
    for (const [sender, count] of outcome.bySender) bump(bySender[signal], sender, count);
    const malformedReason = signal === 'traces' ? 'invalid_span' : 'invalid_log_record';
    if (outcome.rejected > 0) bump(refused[signal], malformedReason, outcome.rejected);
    if (outcome.full > 0) bump(refused[signal], 'queue_full', outcome.full);
    // The answer says the data is the daemon's: on disk first. When it cannot be, the sender is
    // asked to send again (a duplicate is better than a loss it was told was none).
    if (!options.syncJournal()) return fail(response, 503, 'codexd could not make this durable (its journal cannot be written); send again', { 'retry-after': String(RETRY_AFTER_SECONDS) });
    const rejected = outcome.rejected + outcome.full;
    const what = signal === 'traces' ? 'spans' : 'log records';
    const lane = signal === 'traces' ? 'trace' : 'log';
    const message = rejected === 0 ? '' : [outcome.rejected > 0 ? `${outcome.rejected} malformed (${outcome.firstProblem ?? ''})` : '', outcome.full > 0 ? `${outcome.full} refused: the ${lane} lane is full` : ''].filter(Boolean).join('; ');
    if (json) answer(response, 200, true, JSON.stringify(rejected === 0 ? {} : { partialSuccess: { [signal === 'traces' ? 'rejectedSpans' : 'rejectedLogRecords']: String(rejected), errorMessage: `${what}: ${message}` } }));
    else answer(response, 200, false, protobufResponse(rejected, `${what}: ${message}`));
  }

  /** The sender of a resource, as status lists it. */
  const senderOf = (resource: Readonly<Record<string, unknown>>): string => (typeof resource['service.name'] === 'string' ? resource['service.name'] : 'unknown_service');

  /** Hands what a request decoded to its ingest, each resource as the registry holds it; counts it by sender. */
  function take<T>(decoded: DecodedRequest<T>, ingest: (resources: { resource: HostResource; scopes: DecodedRequest<T>['resources'][number]['scopes'] }[], malformed: number) => { refused: number }) {
    const resolved = decoded.resources.map(({ resource, scopes }) => ({ resource: options.resources.exact(resource), scopes }));
    const { refused: full } = ingest(resolved, decoded.rejected);
    const senders = new Map<string, number>();
    for (const { resource, scopes } of decoded.resources) bump(senders, senderOf(resource), scopes.reduce((sum, scope) => sum + scope.items.length, 0));
    return { rejected: decoded.rejected, firstProblem: decoded.firstProblem, full, bySender: senders };
  }

  const server: Server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      logger.error({ problem: error instanceof Error ? error.message : String(error) }, 'OTLP request failed');
      fail(response, 500, 'codexd could not handle this request');
    });
  });
  // Slow senders do not hold sockets open for ever.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const where = typeof address === 'object' && address !== null ? `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}` : `${options.host}:${options.port}`;
  logger.info({ address: where, token: options.token !== null }, 'OTLP/HTTP receiver listening');
  return {
    counts: () => ({
      http: where,
      requests: Object.fromEntries(requests),
      spansBySender: Object.fromEntries([...bySender.traces].filter(([, count]) => count > 0)),
      spansRefused: Object.fromEntries(refused.traces),
      logsBySender: Object.fromEntries([...bySender.logs].filter(([, count]) => count > 0)),
      logsRefused: Object.fromEntries(refused.logs),
    }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
