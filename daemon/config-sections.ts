/**
 * The tables of the config that are not exporters: `[codexd.otlp_receiver]`, the memory limits
 * in `[codexd]`, and `[feedback]`; and the check that no exporter points at codexd's own receiver.
 */
import { parseSentryDsn } from './feedback/sentry.js';
import { DEFAULT_FEEDBACK_RETRY_INITIAL_MS, DEFAULT_FEEDBACK_RETRY_MAX_MS, DEFAULT_FEEDBACK_SPOOL_BYTES, DEFAULT_MEMORY_LIMIT_MIB, DEFAULT_MEMORY_SPIKE_SHARE, type ExporterConfig, type FeedbackConfig, type MemoryConfig, type OtlpReceiverConfig } from './config-schema.js';
import { fail, headersOf, isHttpUrl, isTable, knownKeysOnly, positiveInteger, type Table } from './config-values.js';

/** True when an OTLP exporter's endpoint is the address one of codexd's own receivers listens on. */
export function pointsAtReceiver(exporter: ExporterConfig, receiver: OtlpReceiverConfig): boolean {
  if ((exporter.kind !== 'otlp-grpc' && exporter.kind !== 'otlp-http') || exporter.endpoint === undefined) return false;
  let url: URL;
  try {
    url = new URL(exporter.endpoint);
  } catch {
    return false;
  }
  const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
  const local = (host: string): boolean => ['localhost', '127.0.0.1', '::1', '[::1]', '0.0.0.0', '::'].includes(host);
  return [receiver.http, receiver.grpc].some((address) => address !== null && address.port === port && (address.host === url.hostname || (local(address.host) && local(url.hostname))));
}

/** `host:port`, the host an IPv4 address, a name, or an IPv6 address in brackets. */
export const LISTEN_ADDRESS = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/;

export function readOtlpReceiver(file: string, table: unknown): OtlpReceiverConfig {
  if (!isTable(table)) fail(file, 'codexd.otlp_receiver', 'a table');
  knownKeysOnly(file, table, 'codexd.otlp_receiver');
  const requireToken = table.require_token ?? true;
  if (typeof requireToken !== 'boolean') fail(file, 'codexd.otlp_receiver.require_token', 'true or false');
  const address = (key: 'http' | 'grpc'): { host: string; port: number } | null => {
    if (table[key] === undefined) return null;
    const match = typeof table[key] === 'string' ? LISTEN_ADDRESS.exec(table[key]) : null;
    const port = Number(match?.[3]);
    if (match === null || !(port >= 0 && port <= 65535)) fail(file, `codexd.otlp_receiver.${key}`, `an address to listen on, "host:port" (for example "127.0.0.1:${key === 'http' ? 4318 : 4317}"; "[::1]:${key === 'http' ? 4318 : 4317}" for IPv6; port 0 for any)`);
    return { host: (match[1] ?? match[2]) as string, port };
  };
  return { http: address('http'), grpc: address('grpc'), requireToken };
}

/** The memory limiter's limits: the soft limit (hard less spike) may be zero, never below. */
export function readMemory(file: string, own: Table): MemoryConfig {
  const MIB = 1024 * 1024;
  const limit = positiveInteger(file, own, 'memory_limit_mib', 'codexd.memory_limit_mib', DEFAULT_MEMORY_LIMIT_MIB);
  const spikeValue = own.memory_spike_limit_mib;
  const spike = spikeValue === undefined ? Math.round(limit * DEFAULT_MEMORY_SPIKE_SHARE) : spikeValue;
  if (typeof spike !== 'number' || !Number.isSafeInteger(spike) || spike < 0 || spike >= limit) fail(file, 'codexd.memory_spike_limit_mib', `an integer from 0 to less than memory_limit_mib (${limit})`);
  return { limitBytes: limit * MIB, spikeBytes: spike * MIB };
}

export const FEEDBACK_KEYS = ['enabled', 'endpoint', 'headers', 'sentry_dsn', 'max_spool_bytes', 'retry_initial_ms', 'retry_max_ms'];

export function readFeedback(file: string, table: unknown): FeedbackConfig {
  if (!isTable(table)) fail(file, 'feedback', 'a table');
  for (const key of Object.keys(table)) if (!FEEDBACK_KEYS.includes(key)) fail(file, `feedback.${key}`, `one of ${FEEDBACK_KEYS.join(', ')} (unknown key)`);
  const enabled = table.enabled ?? true;
  if (typeof enabled !== 'boolean') fail(file, 'feedback.enabled', 'true or false');
  const endpoint = table.endpoint;
  const dsn = table.sentry_dsn;
  if (endpoint !== undefined && dsn !== undefined) fail(file, 'feedback', 'either endpoint or sentry_dsn, not both');
  let target: FeedbackConfig['target'] = null;
  if (endpoint !== undefined) {
    if (!isHttpUrl(endpoint)) fail(file, 'feedback.endpoint', 'a URL starting with https:// (or http:// for a local receiver)');
    target = { kind: 'http', endpoint, headers: headersOf(file, table.headers, 'feedback.headers') };
  } else if (table.headers !== undefined) fail(file, 'feedback.headers', 'no headers without feedback.endpoint');
  if (dsn !== undefined) {
    if (typeof dsn !== 'string' || parseSentryDsn(dsn) === null) fail(file, 'feedback.sentry_dsn', 'a Sentry DSN such as https://<public key>@<host>/<project id>');
    target = { kind: 'sentry', dsn };
  }
  return {
    enabled,
    target,
    maxSpoolBytes: positiveInteger(file, table, 'max_spool_bytes', 'feedback.max_spool_bytes', DEFAULT_FEEDBACK_SPOOL_BYTES),
    retryInitialMs: positiveInteger(file, table, 'retry_initial_ms', 'feedback.retry_initial_ms', DEFAULT_FEEDBACK_RETRY_INITIAL_MS),
    retryMaxMs: positiveInteger(file, table, 'retry_max_ms', 'feedback.retry_max_ms', DEFAULT_FEEDBACK_RETRY_MAX_MS),
  };
}
