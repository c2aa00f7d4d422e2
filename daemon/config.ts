/**
 * Reads the daemon's settings from Codex's `config.toml` (`[otel]`, `[analytics]`) and
 * codexd's own `[codexd]` table, then applies the standard OTLP environment variables.
 * Only the keys codexd uses so far are read; each is checked, and a wrong one is one error
 * naming the file, the key and what was expected.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parse } from 'smol-toml';

import { checkTracestateFields, type TracestateFields } from '../protocol/index.js';
import { parseSentryDsn } from './feedback/sentry.js';
import type { DaemonPaths } from './paths.js';

export type ExporterConfig =
  | { readonly kind: 'none' }
  | { readonly kind: 'file'; readonly dir: string; readonly maxFileBytes: number; readonly maxFiles: number }
  | {
      readonly kind: 'otlp-grpc';
      readonly endpoint: string;
      readonly headers: Readonly<Record<string, string>>;
      readonly tls?: TlsConfig;
      /** Longest one export request may take (`OTEL_EXPORTER_OTLP_[<SIGNAL>_]TIMEOUT`); default the flush deadline. */
      readonly timeoutMs?: number;
    }
  /** OTLP/HTTP: `endpoint` is the base URL; `/v1/metrics`, `/v1/logs` or `/v1/traces` is appended. */
  | {
      readonly kind: 'otlp-http';
      readonly endpoint: string;
      readonly headers: Readonly<Record<string, string>>;
      readonly protocol: 'binary' | 'json';
      readonly tls?: TlsConfig;
      /** The endpoint is the signal's full URL (from `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT`): nothing is appended. */
      readonly exactUrl?: boolean;
      readonly timeoutMs?: number;
    };

/** An exporter's `tls` table, Codex's keys: files read when the config is loaded. */
export interface TlsConfig {
  /** The files, for `config check` (their contents are never printed). */
  readonly paths: { readonly ca?: string; readonly cert?: string; readonly key?: string };
  /** A custom CA to verify the collector by (PEM), instead of the system's. */
  readonly ca?: string;
  /** A client certificate and its private key (PEM), always together. */
  readonly cert?: string;
  readonly key?: string;
}

/** `[feedback]`: where `feedback/submit` reports go. No endpoint: they wait in the spool. */
export interface FeedbackConfig {
  readonly enabled: boolean;
  readonly target: { readonly kind: 'http'; readonly endpoint: string; readonly headers: Readonly<Record<string, string>> } | { readonly kind: 'sentry'; readonly dsn: string } | null;
  readonly maxSpoolBytes: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
}

export interface DaemonConfig {
  /** Where the settings came from; `null` when no file exists and defaults apply. */
  readonly file: string | null;
  readonly environment: string;
  readonly socketPath: string | undefined;
  readonly metrics: ExporterConfig;
  /** The log lane of session events (`[otel] exporter`). */
  readonly logs: ExporterConfig;
  /** The trace lane of session events (`[otel] trace_exporter`, else `exporter`). */
  readonly traces: ExporterConfig;
  /** `[otel] log_user_prompt`: prompt text may reach the log lane, for sessions that allow it too. */
  readonly logUserPrompt: boolean;
  /** `[codexd] log_tool_content`: tool arguments and output may reach the log lane. */
  readonly logToolContent: boolean;
  /** `[otel] span_attributes`: set on every span (an event's own attribute of the same name wins). */
  readonly spanAttributes: Readonly<Record<string, string>>;
  /** `[otel.tracestate.<member>]`: fields upserted into every span's W3C tracestate. */
  readonly tracestate: TracestateFields;
  readonly exportIntervalMs: number;
  readonly flushDeadlineMs: number;
  /** Idle time after which an auto-spawned or socket-activated daemon exits. */
  readonly idleTimeoutMs: number;
  /** Time without a record after which a session is expired. */
  readonly sessionIdleTimeoutMs: number;
  readonly logLevel: string;
  readonly feedback: FeedbackConfig;
  /** The export queue in front of each network exporter. */
  readonly delivery: DeliveryConfig;
  /** The memory limiter (daemon/memory-limiter.ts). */
  readonly memory: MemoryConfig;
  /** `[codexd.otlp_receiver]`: OTLP endpoints for unmodified OpenTelemetry senders (daemon/otlp/). */
  readonly otlpReceiver: OtlpReceiverConfig;
}

export interface OtlpReceiverConfig {
  /** `http`: where the OTLP/HTTP receiver listens; null (the default) when it is off. */
  readonly http: { readonly host: string; readonly port: number } | null;
  /** `grpc`: where the OTLP/gRPC receiver listens; null (the default) when it is off. */
  readonly grpc: { readonly host: string; readonly port: number } | null;
  /** `require_token`: a request must carry the bearer token of codexd's state folder (default true). */
  readonly requireToken: boolean;
}

export interface MemoryConfig {
  /** `[codexd] memory_limit_mib`: the hard limit on what the daemon holds, in bytes. */
  readonly limitBytes: number;
  /** `[codexd] memory_spike_limit_mib`: the soft limit is this far below the hard one. */
  readonly spikeBytes: number;
}

export interface DeliveryConfig {
  /** Bytes of serialised batches a signal's queue holds in memory; past it the oldest go to disk. */
  readonly queueMaxBytes: number;
  /** Bytes a signal's disk spool may take; past it the oldest batches are dropped (counted). */
  readonly spoolMaxBytes: number;
  readonly retryInitialMs: number;
  readonly retryMaxMs: number;
  /** Largest serialised export request; a bigger batch is cut into several. */
  readonly maxRequestBytes: number;
}

/** How often the daemon collects and exports metrics. Codex's SDK default is 60 s; a daemon can afford less. */
export const DEFAULT_EXPORT_INTERVAL_MS = 5000;
/** How long a stop may spend exporting before it gives up. */
export const DEFAULT_FLUSH_DEADLINE_MS = 5000;
/** Idle time after which an auto-spawned daemon exits: no connections and nothing held. */
export const DEFAULT_IDLE_TIMEOUT_MS = 10 * 60 * 1000;
/** Time without a record after which a session that was never ended is expired. */
export const DEFAULT_SESSION_IDLE_TIMEOUT_MS = 60 * 60 * 1000;
/** Size at which the file exporter starts a new file. */
export const DEFAULT_FILE_MAX_BYTES = 16 * 1024 * 1024;
/** Files the file exporter keeps per signal; the oldest is deleted beyond this. */
export const DEFAULT_FILE_MAX_FILES = 4;
/** Bytes of serialised batches one signal's export queue holds in memory. */
export const DEFAULT_EXPORT_QUEUE_BYTES = 8 * 1024 * 1024;
/** The memory limiter's hard limit: V8's heap in use plus Buffers, in MiB. */
export const DEFAULT_MEMORY_LIMIT_MIB = 128;
/** How far below the hard limit the soft one lies, as a share of the hard limit (the Collector's default). */
export const DEFAULT_MEMORY_SPIKE_SHARE = 0.25;
/** Bytes one signal's export spool may take on disk. */
export const DEFAULT_EXPORT_SPOOL_BYTES = 256 * 1024 * 1024;
/** First delay after a failed export; it doubles per failure in a row. */
export const DEFAULT_EXPORT_RETRY_INITIAL_MS = 500;
/** Largest backoff step between export attempts, before jitter. */
export const DEFAULT_EXPORT_RETRY_MAX_MS = 30_000;
/**
 * Largest export request codexd makes: under the 4 MiB (4,194,304 bytes) an OpenTelemetry
 * Collector's gRPC receiver takes by default, which refuses a bigger one for good.
 */
export const DEFAULT_EXPORT_MAX_REQUEST_BYTES = 4_000_000;
/** Bytes the feedback spool may hold (reports waiting or failed). */
export const DEFAULT_FEEDBACK_SPOOL_BYTES = 64 * 1024 * 1024;
/** First delay between two feedback upload attempts; it doubles per attempt. */
export const DEFAULT_FEEDBACK_RETRY_INITIAL_MS = 1000;
/** Longest backoff step between two feedback upload attempts, before jitter (which spreads it over ½ to 1½ of itself). */
export const DEFAULT_FEEDBACK_RETRY_MAX_MS = 15 * 60 * 1000;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** A reload refused: the config file is invalid, or could not be applied. The daemon keeps the settings it had. */
export class ReloadError extends Error {
  override readonly name = 'ReloadError';
}

type Table = Record<string, unknown>;

function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

function fail(file: string, key: string, expected: string): never {
  throw new ConfigError(`${file}: ${key}: expected ${expected}`);
}

/**
 * True for an http:// or https:// URL with a host that the URL parser takes whole: what every
 * sender parses later, so that a malformed one (`http://[::1`) is refused here, naming the key,
 * rather than failing the daemon's start or a reload without saying where it came from.
 */
export function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string' || !/^https?:\/\/[^/\s]/.test(value)) return false;
  try {
    return new URL(value).hostname !== '';
  } catch {
    return false;
  }
}

function positiveInteger(file: string, table: Table, key: string, path: string, fallback: number): number {
  const value = table[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) fail(file, path, 'a positive integer');
  return value;
}

function headersOf(file: string, value: unknown, path: string): Record<string, string> {
  if (value === undefined) return {};
  if (!isTable(value)) fail(file, path, 'a table of header names to string values');
  const headers: Record<string, string> = {};
  for (const [name, text] of Object.entries(value)) {
    // A header that would not go on the wire is an error, not dropped on the way.
    if (!HEADER_NAME.test(name)) fail(file, `${path}.${JSON.stringify(name)}`, 'a header name of letters, digits and !#$%&\'*+.^_`|~-');
    if (typeof text !== 'string' || !HEADER_VALUE.test(text)) fail(file, `${path}.${name}`, 'a string of printable ASCII (no line breaks or control characters)');
    headers[name.toLowerCase()] = text;
  }
  return headers;
}

/** An HTTP header name (RFC 9110 token); gRPC metadata takes the same names, lowercased. */
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
/** A header value both HTTP and gRPC metadata carry as given. */
const HEADER_VALUE = /^[\x20-\x7e]*$/;

type ReadExporter = ExporterConfig | { kind: 'otlp-grpc'; endpoint: string | undefined; headers: Record<string, string>; tls?: TlsConfig };

const TLS_KEYS = ['ca-certificate', 'client-certificate', 'client-private-key'];

/** Reads an exporter's `tls` table: each file must be readable; a certificate needs its key and the other way round. */
function readTls(file: string, value: unknown, path: string, endpoint: unknown): TlsConfig | undefined {
  if (value === undefined) return undefined;
  if (!isTable(value)) fail(file, path, `a table of ${TLS_KEYS.join(', ')}`);
  for (const name of Object.keys(value)) if (!TLS_KEYS.includes(name)) fail(file, `${path}.${name}`, `one of ${TLS_KEYS.join(', ')} (unknown key)`);
  if (typeof endpoint === 'string' && !endpoint.startsWith('https://')) fail(file, path, 'an https:// endpoint: TLS settings with an http:// endpoint would never be used');
  const read = (name: string): { path: string; pem: string } | undefined => {
    const where = value[name];
    if (where === undefined) return undefined;
    if (typeof where !== 'string' || where === '') fail(file, `${path}.${name}`, 'the path of a PEM file');
    try {
      return { path: where, pem: readFileSync(where, 'utf8') };
    } catch (error) {
      return fail(file, `${path}.${name}`, `a readable PEM file; ${where}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  const ca = read('ca-certificate');
  const cert = read('client-certificate');
  const key = read('client-private-key');
  if ((cert === undefined) !== (key === undefined)) fail(file, path, 'client-certificate and client-private-key together: one without the other cannot authenticate');
  return {
    paths: { ...(ca === undefined ? {} : { ca: ca.path }), ...(cert === undefined ? {} : { cert: cert.path }), ...(key === undefined ? {} : { key: key.path }) },
    ...(ca === undefined ? {} : { ca: ca.pem }),
    ...(cert === undefined ? {} : { cert: cert.pem }),
    ...(key === undefined ? {} : { key: key.pem }),
  };
}

function readExporter(file: string, key: string, value: unknown, fileDefault: ExporterConfig, env: NodeJS.ProcessEnv): ReadExporter {
  if (value === undefined) return fileDefault;
  if (value === 'none') return { kind: 'none' };
  if (value === 'file') return fileDefault;
  if (isTable(value)) {
    const names = Object.keys(value);
    const grpc = value['otlp-grpc'];
    if (names.length === 1 && isTable(grpc)) {
      for (const name of Object.keys(grpc)) {
        if (name !== 'endpoint' && name !== 'headers' && name !== 'tls') fail(file, `${key}.otlp-grpc.${name}`, 'one of "endpoint", "headers", "tls" (unknown key)');
      }
      const endpoint = grpc.endpoint;
      if (endpoint !== undefined && !isHttpUrl(endpoint)) {
        fail(file, `${key}.otlp-grpc.endpoint`, 'a URL starting with http:// or https://');
      }
      const tls = readTls(file, grpc.tls, `${key}.otlp-grpc.tls`, endpoint);
      return { kind: 'otlp-grpc', endpoint, headers: headersOf(file, grpc.headers, `${key}.otlp-grpc.headers`), ...(tls === undefined ? {} : { tls }) };
    }
    const http = value['otlp-http'];
    if (names.length === 1 && isTable(http)) {
      for (const name of Object.keys(http)) {
        if (name !== 'endpoint' && name !== 'headers' && name !== 'protocol' && name !== 'tls') fail(file, `${key}.otlp-http.${name}`, 'one of "endpoint", "headers", "protocol", "tls" (unknown key)');
      }
      const endpoint = http.endpoint;
      if (!isHttpUrl(endpoint)) fail(file, `${key}.otlp-http.endpoint`, 'a URL starting with http:// or https://');
      const protocol = http.protocol ?? 'binary';
      if (protocol !== 'binary' && protocol !== 'json') fail(file, `${key}.otlp-http.protocol`, '"binary" or "json"');
      const tls = readTls(file, http.tls, `${key}.otlp-http.tls`, endpoint);
      return { kind: 'otlp-http', endpoint, headers: headersOf(file, http.headers, `${key}.otlp-http.headers`), protocol, ...(tls === undefined ? {} : { tls }) };
    }
  }
  if (value === 'statsig') {
    // As in Codex: OTLP/HTTP JSON to Statsig, with the key from the environment; none is built in.
    const apiKey = env.STATSIG_SERVER_SDK_SECRET;
    if (apiKey === undefined || apiKey === '') fail(file, key, '"statsig" with an API key in STATSIG_SERVER_SDK_SECRET (none is built in)');
    return { kind: 'otlp-http', endpoint: STATSIG_ENDPOINT, headers: { 'statsig-api-key': apiKey }, protocol: 'json' };
  }
  return fail(file, key, '"none", "file", { otlp-grpc = { endpoint = "http://host:4317" } } or { otlp-http = { endpoint = "http://host:4318", protocol = "binary" } }');
}

/** Where `"statsig"` sends: Statsig's OTLP/HTTP JSON ingestion. */
export const STATSIG_ENDPOINT = 'https://api.statsig.com/otlp';

/**
 * `OTEL_EXPORTER_OTLP_HEADERS`-style text, `name=value,name2=value2` with percent-encoded values,
 * as headers; a malformed one is an error naming the variable.
 */
function envHeaders(name: string, text: string | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (text === undefined || text.trim() === '') return headers;
  for (const pair of text.split(',')) {
    if (pair.trim() === '') continue;
    const at = pair.indexOf('=');
    const key = pair.slice(0, at).trim();
    if (at <= 0 || !HEADER_NAME.test(key)) throw new ConfigError(`${name}: expected name=value pairs separated by commas; "${pair.trim().slice(0, 40).replace(/=.*/, '=…')}" is not one`);
    try {
      headers[key.toLowerCase()] = decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      throw new ConfigError(`${name}: the value of ${key} is not valid percent-encoding`);
    }
    if (!HEADER_VALUE.test(headers[key.toLowerCase()] as string)) throw new ConfigError(`${name}: the value of ${key} holds a line break or control character`);
  }
  return headers;
}

/** The keys each table codexd reads may hold; like Codex, an unknown key is an error, not ignored. */
const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = {
  otel: ['environment', 'exporter', 'trace_exporter', 'metrics_exporter', 'log_user_prompt', 'span_attributes', 'tracestate'],
  analytics: ['enabled'],
  codexd: [
    'socket',
    'export_interval_ms',
    'flush_deadline_ms',
    'idle_timeout_ms',
    'session_idle_timeout_ms',
    'log_level',
    'log_tool_content',
    'file_exporter',
    'export_queue_max_bytes',
    'export_spool_max_bytes',
    'export_retry_initial_ms',
    'export_retry_max_ms',
    'export_max_request_bytes',
    'memory_limit_mib',
    'memory_spike_limit_mib',
    'otlp_receiver',
    'downstream',
  ],
  'codexd.file_exporter': ['dir', 'max_file_bytes', 'max_files'],
  'codexd.otlp_receiver': ['http', 'grpc', 'require_token'],
  'codexd.downstream': ['exporter', 'trace_exporter', 'metrics_exporter'],
};

/** Refuses a key the table does not know, naming it and the ones it does. */
function knownKeysOnly(file: string, table: Table, path: string): void {
  const known = KNOWN_KEYS[path] ?? [];
  for (const key of Object.keys(table)) if (!known.includes(key)) fail(file, `${path}.${key}`, `one of ${known.join(', ')} (unknown key)`);
}

/**
 * Loads the configuration. A missing file means defaults; an unreadable or invalid one throws
 * {@link ConfigError}. Environment, per signal: `OTEL_EXPORTER_OTLP_{METRICS,LOGS,TRACES}_ENDPOINT`,
 * else `OTEL_EXPORTER_OTLP_ENDPOINT`, sets the OTLP endpoint and, when the file names no
 * exporter for that signal, selects OTLP/gRPC; the file's explicit `"none"` or `"file"` wins.
 */
export function loadConfig(paths: DaemonPaths, env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const file = paths.configFile;
  let text: string | null = null;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new ConfigError(`${file}: cannot be read: ${(error as Error).message}`);
    }
  }
  let root: Table = {};
  if (text !== null) {
    try {
      root = parse(text) as Table;
    } catch (error) {
      throw new ConfigError(`${file}: not valid TOML: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  // The rest of config.toml is Codex's own: only the tables codexd reads are checked.
  const otel = root.otel ?? {};
  if (!isTable(otel)) fail(file, 'otel', 'a table');
  knownKeysOnly(file, otel, 'otel');
  const analytics = root.analytics ?? {};
  if (!isTable(analytics)) fail(file, 'analytics', 'a table');
  knownKeysOnly(file, analytics, 'analytics');
  const own = root.codexd ?? {};
  if (!isTable(own)) fail(file, 'codexd', 'a table');
  knownKeysOnly(file, own, 'codexd');
  const spanAttributes = otel.span_attributes ?? {};
  if (!isTable(spanAttributes) || !Object.values(spanAttributes).every((value) => typeof value === 'string')) fail(file, 'otel.span_attributes', 'a table of string values');
  const tracestate = otel.tracestate ?? {};
  if (!isTable(tracestate) || !Object.values(tracestate).every((member) => isTable(member) && Object.values(member).every((value) => typeof value === 'string'))) {
    fail(file, 'otel.tracestate', 'a table of member tables of string values');
  }
  const tracestateProblem = checkTracestateFields(tracestate as TracestateFields);
  if (tracestateProblem !== null) fail(file, `otel.tracestate${tracestateProblem[0] === '' ? '' : `.${tracestateProblem[0]}`}`, tracestateProblem[1]);

  const environment = otel.environment ?? 'dev';
  if (typeof environment !== 'string') fail(file, 'otel.environment', 'a string');
  const socketPath = own.socket;
  if (socketPath !== undefined && (typeof socketPath !== 'string' || socketPath === '')) fail(file, 'codexd.socket', 'a non-empty path');
  const logLevel = own.log_level ?? 'info';
  if (typeof logLevel !== 'string' || !['fatal', 'error', 'warn', 'info', 'debug', 'trace'].includes(logLevel)) {
    fail(file, 'codexd.log_level', 'one of fatal, error, warn, info, debug, trace');
  }
  const fileExporter = own.file_exporter ?? {};
  if (!isTable(fileExporter)) fail(file, 'codexd.file_exporter', 'a table');
  knownKeysOnly(file, fileExporter, 'codexd.file_exporter');
  const dir = fileExporter.dir ?? join(paths.dataDir, 'telemetry');
  if (typeof dir !== 'string' || dir === '') fail(file, 'codexd.file_exporter.dir', 'a non-empty path');
  const fileDefault: ExporterConfig = {
    kind: 'file',
    dir,
    maxFileBytes: positiveInteger(file, fileExporter, 'max_file_bytes', 'codexd.file_exporter.max_file_bytes', DEFAULT_FILE_MAX_BYTES),
    maxFiles: positiveInteger(file, fileExporter, 'max_files', 'codexd.file_exporter.max_files', DEFAULT_FILE_MAX_FILES),
  };

  /**
   * A signal's exporter: the file's, else one the standard OTLP variables select. Per signal
   * (`OTEL_EXPORTER_OTLP_<SIGNAL>_*`) before generic (`OTEL_EXPORTER_OTLP_*`): `_ENDPOINT` sets
   * the endpoint (and, with no exporter in the file, selects OTLP), `_PROTOCOL` (`grpc`, the
   * default, `http/protobuf` or `http/json`) the kind, `_HEADERS` adds headers over the file's.
   */
  const signalExporter = (key: string, value: unknown, signal: 'METRICS' | 'LOGS' | 'TRACES'): ExporterConfig => {
    const pick = (suffix: string): [string, string] | undefined => {
      for (const name of [`OTEL_EXPORTER_OTLP_${signal}_${suffix}`, `OTEL_EXPORTER_OTLP_${suffix}`]) if ((env[name] ?? '') !== '') return [name, env[name] as string];
      return undefined;
    };
    const endpointVar = pick('ENDPOINT');
    const envEndpoint = endpointVar?.[1];
    if (endpointVar !== undefined && !isHttpUrl(endpointVar[1])) throw new ConfigError(`${endpointVar[0]}: expected a URL starting with http:// or https://`);
    // As the OpenTelemetry specification says: a signal's own endpoint variable is its full URL.
    const exactUrl = endpointVar?.[0] === `OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`;
    const protocolVar = pick('PROTOCOL');
    const protocol = protocolVar?.[1] ?? 'grpc';
    if (!['grpc', 'http/protobuf', 'http/json'].includes(protocol)) throw new ConfigError(`${protocolVar?.[0]}: expected grpc, http/protobuf or http/json`);
    const headersVar = pick('HEADERS');
    const extraHeaders = headersVar === undefined ? {} : envHeaders(headersVar[0], headersVar[1]);
    const timeoutVar = pick('TIMEOUT');
    const timeoutMs = timeoutVar === undefined ? undefined : Number(timeoutVar[1].trim());
    if (timeoutMs !== undefined && (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0)) throw new ConfigError(`${timeoutVar?.[0]}: expected a positive whole number of milliseconds`);
    const timeout = timeoutMs === undefined ? {} : { timeoutMs };
    let chosen: ReadExporter = readExporter(file, key, value, fileDefault, env);
    // Statsig is a destination of its own: the generic OTLP variables do not redirect it.
    if (value === 'statsig') return chosen as ExporterConfig;
    if (value === undefined && envEndpoint !== undefined) {
      chosen = protocol === 'grpc' ? { kind: 'otlp-grpc', endpoint: undefined, headers: {} } : { kind: 'otlp-http', endpoint: envEndpoint, headers: {}, protocol: protocol === 'http/json' ? 'json' : 'binary' };
    }
    if (chosen.kind === 'otlp-grpc') chosen = { ...chosen, endpoint: envEndpoint ?? chosen.endpoint ?? 'http://localhost:4317', headers: { ...chosen.headers, ...extraHeaders }, ...timeout };
    else if (chosen.kind === 'otlp-http') chosen = { ...chosen, endpoint: envEndpoint ?? chosen.endpoint, headers: { ...chosen.headers, ...extraHeaders }, ...(envEndpoint !== undefined && exactUrl ? { exactUrl: true } : {}), ...timeout };
    // TLS settings only mean something over https: whatever set the endpoint, say so.
    if ((chosen.kind === 'otlp-grpc' || chosen.kind === 'otlp-http') && chosen.tls !== undefined && !(chosen.endpoint ?? '').startsWith('https://')) {
      throw new ConfigError(`${file}: ${key}: its tls table needs an https:// endpoint, and the endpoint is ${JSON.stringify(chosen.endpoint ?? '')}${envEndpoint === undefined ? '' : ` (from ${endpointVar?.[0]})`}`);
    }
    return chosen as ExporterConfig;
  };
  // Where codexd exports: [otel]'s exporters, the same Codex uses; or, once Codex's point at
  // codexd's own OTLP receiver, [codexd.downstream]'s, which then stand for all three.
  const downstream = own.downstream ?? {};
  if (!isTable(downstream)) fail(file, 'codexd.downstream', 'a table');
  knownKeysOnly(file, downstream, 'codexd.downstream');
  const [exporters, table] = Object.keys(downstream).length > 0 ? [downstream, 'codexd.downstream'] : [otel, 'otel'];
  let metrics = signalExporter(`${table}.metrics_exporter`, exporters.metrics_exporter, 'METRICS');
  if (analytics.enabled === false) metrics = { kind: 'none' };
  else if (analytics.enabled !== undefined && typeof analytics.enabled !== 'boolean') fail(file, 'analytics.enabled', 'true or false');
  // As in Codex, the trace exporter defaults to the log exporter.
  const logs = signalExporter(`${table}.exporter`, exporters.exporter, 'LOGS');
  const traces =
    exporters.trace_exporter === undefined && exporters.exporter !== undefined ? signalExporter(`${table}.exporter`, exporters.exporter, 'TRACES') : signalExporter(`${table}.trace_exporter`, exporters.trace_exporter, 'TRACES');
  const otlpReceiver = readOtlpReceiver(file, own.otlp_receiver ?? {});
  for (const [key, exporter] of [[`${table}.metrics_exporter`, metrics], [`${table}.exporter`, logs], [`${table}.trace_exporter`, traces]] as const) {
    if (pointsAtReceiver(exporter, otlpReceiver)) {
      fail(file, key, `an exporter that is not codexd's own OTLP receiver (it would export to itself); when Codex's [otel] exporters point at codexd, put codexd's own destinations in [codexd.downstream]`);
    }
  }
  const logUserPrompt = otel.log_user_prompt ?? false;
  if (typeof logUserPrompt !== 'boolean') fail(file, 'otel.log_user_prompt', 'true or false');
  const feedback = readFeedback(file, root.feedback ?? {});
  const logToolContent = own.log_tool_content ?? false;
  if (typeof logToolContent !== 'boolean') fail(file, 'codexd.log_tool_content', 'true or false');

  return {
    file: text === null ? null : file,
    environment,
    socketPath,
    metrics,
    logs,
    traces,
    logUserPrompt,
    logToolContent,
    spanAttributes: spanAttributes as Record<string, string>,
    tracestate: tracestate as TracestateFields,
    exportIntervalMs: positiveInteger(file, own, 'export_interval_ms', 'codexd.export_interval_ms', DEFAULT_EXPORT_INTERVAL_MS),
    flushDeadlineMs: positiveInteger(file, own, 'flush_deadline_ms', 'codexd.flush_deadline_ms', DEFAULT_FLUSH_DEADLINE_MS),
    idleTimeoutMs: positiveInteger(file, own, 'idle_timeout_ms', 'codexd.idle_timeout_ms', DEFAULT_IDLE_TIMEOUT_MS),
    sessionIdleTimeoutMs: positiveInteger(file, own, 'session_idle_timeout_ms', 'codexd.session_idle_timeout_ms', DEFAULT_SESSION_IDLE_TIMEOUT_MS),
    logLevel,
    feedback,
    delivery: {
      queueMaxBytes: positiveInteger(file, own, 'export_queue_max_bytes', 'codexd.export_queue_max_bytes', DEFAULT_EXPORT_QUEUE_BYTES),
      spoolMaxBytes: positiveInteger(file, own, 'export_spool_max_bytes', 'codexd.export_spool_max_bytes', DEFAULT_EXPORT_SPOOL_BYTES),
      retryInitialMs: positiveInteger(file, own, 'export_retry_initial_ms', 'codexd.export_retry_initial_ms', DEFAULT_EXPORT_RETRY_INITIAL_MS),
      retryMaxMs: positiveInteger(file, own, 'export_retry_max_ms', 'codexd.export_retry_max_ms', DEFAULT_EXPORT_RETRY_MAX_MS),
      maxRequestBytes: positiveInteger(file, own, 'export_max_request_bytes', 'codexd.export_max_request_bytes', DEFAULT_EXPORT_MAX_REQUEST_BYTES),
    },
    memory: readMemory(file, own),
    otlpReceiver,
  };
}

/** True when an OTLP exporter's endpoint is the address one of codexd's own receivers listens on. */
function pointsAtReceiver(exporter: ExporterConfig, receiver: OtlpReceiverConfig): boolean {
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
const LISTEN_ADDRESS = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/;

function readOtlpReceiver(file: string, table: unknown): OtlpReceiverConfig {
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
function readMemory(file: string, own: Table): MemoryConfig {
  const MIB = 1024 * 1024;
  const limit = positiveInteger(file, own, 'memory_limit_mib', 'codexd.memory_limit_mib', DEFAULT_MEMORY_LIMIT_MIB);
  const spikeValue = own.memory_spike_limit_mib;
  const spike = spikeValue === undefined ? Math.round(limit * DEFAULT_MEMORY_SPIKE_SHARE) : spikeValue;
  if (typeof spike !== 'number' || !Number.isSafeInteger(spike) || spike < 0 || spike >= limit) fail(file, 'codexd.memory_spike_limit_mib', `an integer from 0 to less than memory_limit_mib (${limit})`);
  return { limitBytes: limit * MIB, spikeBytes: spike * MIB };
}

const FEEDBACK_KEYS = ['enabled', 'endpoint', 'headers', 'sentry_dsn', 'max_spool_bytes', 'retry_initial_ms', 'retry_max_ms'];

function readFeedback(file: string, table: unknown): FeedbackConfig {
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
