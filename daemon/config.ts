/**
 * Reads the daemon's settings from Codex's `config.toml` (`[otel]`, `[analytics]`) and
 * codexd's own `[codexd]` table, then applies the standard OTLP environment variables.
 * Only the keys codexd uses so far are read; each is checked, and a wrong one is one error
 * naming the file, the key and what was expected. What the settings are is declared in
 * config-schema.ts; the readers of exporters and of the other tables are config-exporters.ts
 * and config-sections.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { parse } from 'smol-toml';

import { checkTracestateFields, type TracestateFields } from '../protocol/index.js';
import { type ReadExporter, readExporter } from './config-exporters.js';
import { pointsAtReceiver, readFeedback, readMemory, readOtlpReceiver } from './config-sections.js';
import { ConfigError, type DaemonConfig, DEFAULT_EXPORT_INTERVAL_MS, DEFAULT_EXPORT_MAX_REQUEST_BYTES, DEFAULT_EXPORT_QUEUE_BYTES, DEFAULT_EXPORT_RETRY_INITIAL_MS, DEFAULT_EXPORT_RETRY_MAX_MS, DEFAULT_EXPORT_SPOOL_BYTES, DEFAULT_FILE_MAX_BYTES, DEFAULT_FILE_MAX_FILES, DEFAULT_FLUSH_DEADLINE_MS, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_SESSION_IDLE_TIMEOUT_MS, type ExporterConfig } from './config-schema.js';
import { envHeaders, fail, isHttpUrl, isTable, knownKeysOnly, positiveInteger, type Table } from './config-values.js';
import type { DaemonPaths } from './paths.js';

export * from './config-schema.js';
export { isHttpUrl } from './config-values.js';
export { STATSIG_ENDPOINT } from './config-exporters.js';

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
