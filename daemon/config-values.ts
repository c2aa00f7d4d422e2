/**
 * The small readers every part of the config uses: tables, errors naming the file and key,
 * positive integers, URLs, header tables (from the file and from OTEL_EXPORTER_OTLP_*_HEADERS),
 * and the keys each table may hold.
 */
import { ConfigError } from './config-schema.js';

export type Table = Record<string, unknown>;

export function isTable(value: unknown): value is Table {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

export function fail(file: string, key: string, expected: string): never {
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

export function positiveInteger(file: string, table: Table, key: string, path: string, fallback: number): number {
  const value = table[key];
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) fail(file, path, 'a positive integer');
  return value;
}

export function headersOf(file: string, value: unknown, path: string): Record<string, string> {
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
export const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
/** A header value both HTTP and gRPC metadata carry as given. */
export const HEADER_VALUE = /^[\x20-\x7e]*$/;


/**
 * `OTEL_EXPORTER_OTLP_HEADERS`-style text, `name=value,name2=value2` with percent-encoded values,
 * as headers; a malformed one is an error naming the variable.
 */
export function envHeaders(name: string, text: string | undefined): Record<string, string> {
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
export const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = {
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
export function knownKeysOnly(file: string, table: Table, path: string): void {
  const known = KNOWN_KEYS[path] ?? [];
  for (const key of Object.keys(table)) if (!known.includes(key)) fail(file, `${path}.${key}`, `one of ${known.join(', ')} (unknown key)`);
}
