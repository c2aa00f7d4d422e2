/**
 * Sends one already-serialised OTLP export request over HTTP (OTLP/HTTP, protobuf or JSON) and
 * says what came of it the way the OTLP specification classifies HTTP outcomes: 429, 502, 503 and
 * 504 (and network failures) are retryable, honouring `Retry-After`; other failures are
 * permanent. The bytes are sent as they are: a batch is serialised once, however often it is
 * retried.
 */
import type { Signal } from '../../protocol/index.js';
import { parseRetryAfter } from '../retry-after.js';
import { permanent, retryable, SENT, type Sender, type SendOutcome } from './sender.js';

export type HttpProtocol = 'binary' | 'json';

/** Paths OTLP/HTTP appends to a base endpoint, per signal. */
const PATHS: Readonly<Record<Signal, string>> = { metrics: '/v1/metrics', logs: '/v1/logs', traces: '/v1/traces' };
const RETRYABLE = new Set([429, 502, 503, 504]);
/** Longest wait a receiver's `Retry-After` is honoured for. */
const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

export interface HttpSenderOptions {
  readonly signal: Signal;
  /** A base URL (`http://host:4318`): the signal's path is appended, as OTLP/HTTP does for `OTEL_EXPORTER_OTLP_ENDPOINT`. */
  readonly endpoint: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly protocol: HttpProtocol;
  /** The endpoint is the full URL: nothing is appended. */
  readonly exactUrl?: boolean;
  /** With an https:// endpoint: a custom CA, and a client certificate with its key (PEM). */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string };
}

/** The URL a signal's requests go to: the base endpoint with `/v1/<signal>` appended. */
export function signalUrl(endpoint: string, signal: Signal): string {
  return `${endpoint.replace(/\/+$/, '')}${PATHS[signal]}`;
}

/** What a response's status and `Retry-After` mean for the batch, as the OTLP specification says. */
function outcomeOf(status: number, retryAfter: string | null): SendOutcome {
  if (status >= 200 && status <= 299) return SENT;
  const message = `HTTP ${status}`;
  if (RETRYABLE.has(status)) return retryable(message, parseRetryAfter(retryAfter, MAX_RETRY_AFTER_MS));
  return permanent(message);
}

/**
 * One POST through node:https with the exporter's own CA and client certificate (`fetch` takes
 * neither). Resolves with the status and the Retry-After header; rejects on a network or TLS
 * failure, or after `timeoutMs`.
 */
function postWithTls(url: string, headers: Record<string, string>, body: Uint8Array, tls: NonNullable<HttpSenderOptions['tls']>, timeoutMs: number): Promise<{ status: number; retryAfter: string | null }> {
  const https = process.getBuiltinModule('node:https');
  return new Promise((resolve, reject) => {
    const request = https.request(url, { method: 'POST', headers: { ...headers, 'content-length': String(body.byteLength) }, ca: tls.ca, cert: tls.cert, key: tls.key, timeout: timeoutMs }, (response) => {
      response.resume();
      const retryAfter = response.headers['retry-after'];
      resolve({ status: response.statusCode ?? 0, retryAfter: typeof retryAfter === 'string' ? retryAfter : null });
    });
    request.on('timeout', () => request.destroy(Object.assign(new Error(`timed out after ${timeoutMs} ms`), { name: 'TimeoutError' })));
    request.on('error', reject);
    request.end(body);
  });
}

export function createHttpSender(options: HttpSenderOptions): Sender {
  const url = options.exactUrl === true ? options.endpoint : signalUrl(options.endpoint, options.signal);
  const tls = options.tls;
  if (tls !== undefined) {
    const plain: Record<string, string> = { ...Object.fromEntries(Object.entries(options.headers).map(([name, value]) => [name.toLowerCase(), value])), 'content-type': options.protocol === 'json' ? 'application/json' : 'application/x-protobuf' };
    return {
      async send(bytes, timeoutMs): Promise<SendOutcome> {
        let answer: { status: number; retryAfter: string | null };
        try {
          answer = await postWithTls(url, plain, bytes, tls, timeoutMs);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          return retryable((error as Error).name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : `request failed (${code ?? (error as Error).message})`);
        }
        return outcomeOf(answer.status, answer.retryAfter);
      },
      close: () => undefined,
    };
  }
  const headers = new Headers();
  for (const [name, value] of Object.entries(options.headers)) headers.set(name, value);
  headers.set('content-type', options.protocol === 'json' ? 'application/json' : 'application/x-protobuf');
  return {
    async send(bytes, timeoutMs): Promise<SendOutcome> {
      let response: Response;
      try {
        response = await fetch(url, { method: 'POST', headers, body: bytes, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
      } catch (error) {
        const cause = (error as { cause?: { code?: string } }).cause?.code;
        const name = (error as Error).name;
        return retryable(name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : `request failed (${cause ?? name})`);
      }
      response.body?.cancel().catch(() => undefined);
      return outcomeOf(response.status, response.headers.get('retry-after'));
    },
    close: () => undefined,
  };
}
