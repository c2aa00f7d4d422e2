/**
 * The OTLP/HTTP receiver: an unmodified OpenTelemetry SDK (Codex's own exporters) hands its
 * traces, logs and metrics to the daemon as it would to a collector, and gets its answer at once from a
 * local process, so its exit never waits on the network. What arrives joins the lanes like what
 * the protocol brings: the catalog's privacy rules, the journal, the durable export queues, the
 * counts.
 *
 *   POST /v1/traces, /v1/logs, /v1/metrics (protobuf or JSON, gzip or not)
 *     --> bearer token --> memory limiter (429) --> size bounds (413) --> decode (400)
 *     --> span-ingest / log-ingest / metric pass-through (each resource and scope as sent)
 *     --> journal synced --> 200
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

import type { Logger } from 'pino';

import { type ExportOutcome, exportResponse, type OtlpExportIngest, type OtlpSignal } from './export-ingest.js';
import { bearerMatches } from './token.js';

/** The largest request body taken, as sent (compressed or not); OTLP/HTTP senders cut batches far smaller. */
export const MAX_OTLP_BODY_BYTES = 8 * 1024 * 1024;
/** The largest body once decompressed: a small gzip body may not unfold past this. */
export const MAX_OTLP_DECODED_BYTES = 32 * 1024 * 1024;
/** The signal each OTLP/HTTP path takes (the paths the specification gives). */
const PATHS: Readonly<Record<string, OtlpSignal>> = { '/v1/traces': 'traces', '/v1/logs': 'logs', '/v1/metrics': 'metrics' };
/** A partial success's count, by signal, in OTLP JSON. */
const REJECTED_KEYS: Readonly<Record<OtlpSignal, string>> = { traces: 'rejectedSpans', logs: 'rejectedLogRecords', metrics: 'rejectedDataPoints' };
/** What a sender refused for memory or a stop is told to wait, in seconds (`Retry-After`). */
const RETRY_AFTER_SECONDS = 1;

export interface OtlpHttpReceiver {
  /** The address listened on, `host:port`. */
  readonly address: string;
  /** Export requests answered, by HTTP status. */
  requests(): Readonly<Record<string, number>>;
  close(): Promise<void>;
}

export interface OtlpHttpReceiverOptions {
  readonly host: string;
  readonly port: number;
  /** The bearer token a request must carry, or null when the config lets any local sender in. */
  readonly token: string | null;
  readonly ingest: OtlpExportIngest;
  readonly logger: Logger;
}

const bump = (map: Map<string, number>, key: string): void => void map.set(key, (map.get(key) ?? 0) + 1);

export async function startOtlpHttpReceiver(options: OtlpHttpReceiverOptions): Promise<OtlpHttpReceiver> {
  const requests = new Map<string, number>();
  const { logger } = options;

  function answer(response: ServerResponse, status: number, json: boolean, body: Buffer | string, headers: Record<string, string> = {}): void {
    bump(requests, String(status));
    if (response.headersSent) return;
    // A body refused unread is read and thrown away, so the connection can carry the next request.
    response.req.resume();
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
    const signal = path === undefined ? undefined : PATHS[path];
    if (signal === undefined) return fail(response, 404, `codexd takes OTLP traces at /v1/traces, logs at /v1/logs and metrics at /v1/metrics, not ${path}`);
    const type = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    const json = type === 'application/json';
    if (!json && type !== 'application/x-protobuf') return fail(response, 415, 'content-type must be application/x-protobuf or application/json');
    const encoding = (request.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity' && encoding !== 'gzip') return fail(response, 415, 'content-encoding must be gzip or left out');
    const refused = options.ingest.admit();
    if (refused !== null) return fail(response, statusOf(refused), refused.message, { 'retry-after': String(RETRY_AFTER_SECONDS) });
    const raw = await body(request);
    if (raw === 'too_large') return fail(response, 413, `the request body exceeds ${MAX_OTLP_BODY_BYTES} bytes`);
    let bytes = raw;
    if (encoding === 'gzip') {
      try {
        bytes = await new Promise<Buffer>((resolve, reject) => process.getBuiltinModule('node:zlib').gunzip(raw, { maxOutputLength: MAX_OTLP_DECODED_BYTES }, (error, out) => (error === null ? resolve(out) : reject(error))));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ERR_BUFFER_TOO_LARGE') return fail(response, 413, `the request body unpacks past ${MAX_OTLP_DECODED_BYTES} bytes`);
        return fail(response, 400, `the body is not valid gzip: ${(error as Error).message}`);
      }
    }
    const outcome = await options.ingest.take(signal, bytes, json ? 'json' : 'protobuf');
    if (outcome.kind !== 'ok') return fail(response, statusOf(outcome), outcome.message, outcome.kind === 'retry' ? { 'retry-after': String(RETRY_AFTER_SECONDS) } : {});
    if (!json) return answer(response, 200, false, exportResponse(outcome.rejected, outcome.message));
    const key = REJECTED_KEYS[signal];
    answer(response, 200, true, JSON.stringify(outcome.rejected === 0 ? {} : { partialSuccess: { [key]: String(outcome.rejected), errorMessage: outcome.message } }));
  }

  /** 400 for what is not OTLP; 429 over the memory limit, 503 while stopping or when the journal fails. */
  function statusOf(outcome: Exclude<ExportOutcome, { kind: 'ok' }>): number {
    if (outcome.kind === 'invalid') return 400;
    return outcome.reason === 'memory' ? 429 : 503;
  }

  // node:http through getBuiltinModule: an ESM import of it loads fetch, TLS and HTTP/2 with it.
  const server: Server = process.getBuiltinModule('node:http').createServer((request, response) => {
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
    address: where,
    requests: () => Object.fromEntries(requests),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
