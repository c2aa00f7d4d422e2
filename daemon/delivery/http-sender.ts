/**
 * Sends one already-serialised OTLP export request over HTTP (OTLP/HTTP, protobuf or JSON) and
 * says what came of it the way the OTLP specification classifies HTTP outcomes: 429, 502, 503 and
 * 504 (and network failures) are retryable, honouring `Retry-After`; other failures are
 * permanent. The bytes are sent as they are: a batch is serialised once, however often it is
 * retried.
 */
import type { Signal } from '../../protocol/index.js';
import type { Sender, SendOutcome } from './grpc-sender.js';

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
}

/** The URL a signal's requests go to: the base endpoint with `/v1/<signal>` appended. */
export function signalUrl(endpoint: string, signal: Signal): string {
  return `${endpoint.replace(/\/+$/, '')}${PATHS[signal]}`;
}

function retryAfterMs(value: string | null): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, MAX_RETRY_AFTER_MS);
  const at = Date.parse(text);
  return Number.isNaN(at) || !/^[A-Za-z]/.test(text) ? null : Math.min(Math.max(0, at - Date.now()), MAX_RETRY_AFTER_MS);
}

export function createHttpSender(options: HttpSenderOptions): Sender {
  const url = signalUrl(options.endpoint, options.signal);
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
        return { kind: 'retryable', message: name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : `request failed (${cause ?? name})`, retryAfterMs: null };
      }
      response.body?.cancel().catch(() => undefined);
      if (response.status >= 200 && response.status <= 299) return { kind: 'ok' };
      const message = `HTTP ${response.status}`;
      if (RETRYABLE.has(response.status)) return { kind: 'retryable', message, retryAfterMs: retryAfterMs(response.headers.get('retry-after')) };
      return { kind: 'permanent', message };
    },
    close: () => undefined,
  };
}
