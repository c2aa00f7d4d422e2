/**
 * `codexd config path` and `codexd config check [--json]`: where codexd reads its settings, and
 * what it makes of them, each with where it came from (default, file, environment). Secrets
 * (header values, the Sentry DSN's key) are never printed.
 */
import { readFileSync } from 'node:fs';

import { parse } from 'smol-toml';

import { parseCommand, UsageError } from './support.js';
import { ConfigError, type DaemonConfig, type ExporterConfig, loadConfig, type TlsConfig } from '../daemon/config.js';
import { resolvePaths } from '../daemon/paths.js';

type Source = 'default' | 'file' | 'environment';

interface Setting {
  readonly key: string;
  readonly value: unknown;
  readonly source: Source;
}

const REDACTED = '[REDACTED]';

function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.keys(headers).map((name) => [name, REDACTED]));
}

/** The files a `tls` table names; never their contents. */
function tlsValue(tls: TlsConfig | undefined): { tls?: Record<string, string> } {
  if (tls === undefined) return {};
  const { ca, cert, key } = tls.paths;
  return { tls: { ...(ca === undefined ? {} : { 'ca-certificate': ca }), ...(cert === undefined ? {} : { 'client-certificate': cert }), ...(key === undefined ? {} : { 'client-private-key': key }) } };
}

/** A URL without credentials: user, password and query are replaced. */
function redactUrl(url: string): string {
  return url.replace(/^(https?:\/\/)[^@/]*@/, `$1${REDACTED}@`).replace(/\?.*$/, `?${REDACTED}`);
}

/** A request timeout set by `OTEL_EXPORTER_OTLP_[<SIGNAL>_]TIMEOUT`. */
function timeoutValue(timeoutMs: number | undefined): { timeout_ms?: number } {
  return timeoutMs === undefined ? {} : { timeout_ms: timeoutMs };
}

function exporterValue(exporter: ExporterConfig): unknown {
  switch (exporter.kind) {
    case 'none':
      return 'none';
    case 'file':
      return { file: { dir: exporter.dir, max_file_bytes: exporter.maxFileBytes, max_files: exporter.maxFiles } };
    case 'otlp-grpc':
      return { 'otlp-grpc': { endpoint: redactUrl(exporter.endpoint), headers: redactHeaders(exporter.headers), ...tlsValue(exporter.tls), ...timeoutValue(exporter.timeoutMs) } };
    case 'otlp-http':
      return {
        'otlp-http': {
          endpoint: redactUrl(exporter.endpoint),
          headers: redactHeaders(exporter.headers),
          protocol: exporter.protocol,
          ...tlsValue(exporter.tls),
          ...(exporter.exactUrl === true ? { url: 'exact (from a per-signal variable)' } : {}),
          ...timeoutValue(exporter.timeoutMs),
        },
      };
  }
}

/** The DSN with its key (and any secret) replaced. */
function redactDsn(dsn: string): string {
  return dsn.replace(/^(https?:\/\/)[^@/]*@/, `$1${REDACTED}@`);
}

function settings(config: DaemonConfig, root: Record<string, unknown>, env: NodeJS.ProcessEnv): Setting[] {
  const inFile = (path: string): boolean => {
    let at: unknown = root;
    for (const part of path.split('.')) {
      if (typeof at !== 'object' || at === null || !(part in at)) return false;
      at = (at as Record<string, unknown>)[part];
    }
    return true;
  };
  const from = (path: string, envNames: readonly string[] = []): Source => (inFile(path) ? 'file' : envNames.some((name) => (env[name] ?? '') !== '') ? 'environment' : 'default');
  const exporterSource = (path: string, envName: string): Source => from(path, [envName, 'OTEL_EXPORTER_OTLP_ENDPOINT']);
  const feedback = config.feedback;
  const target = feedback.target;
  return [
    { key: 'otel.environment', value: config.environment, source: from('otel.environment') },
    { key: 'otel.metrics_exporter', value: exporterValue(config.metrics), source: from('analytics.enabled') === 'file' && config.metrics.kind === 'none' ? 'file' : exporterSource('otel.metrics_exporter', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT') },
    { key: 'otel.exporter', value: exporterValue(config.logs), source: exporterSource('otel.exporter', 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT') },
    { key: 'otel.trace_exporter', value: exporterValue(config.traces), source: inFile('otel.trace_exporter') || inFile('otel.exporter') ? 'file' : from('otel.trace_exporter', ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'OTEL_EXPORTER_OTLP_ENDPOINT']) },
    { key: 'otel.log_user_prompt', value: config.logUserPrompt, source: from('otel.log_user_prompt') },
    { key: 'otel.span_attributes', value: config.spanAttributes, source: from('otel.span_attributes') },
    { key: 'otel.tracestate', value: config.tracestate, source: from('otel.tracestate') },
    { key: 'analytics.enabled', value: (root.analytics as { enabled?: unknown } | undefined)?.enabled ?? true, source: from('analytics.enabled') },
    { key: 'codexd.socket', value: env.CODEXD_SOCKET ?? config.socketPath ?? '(the default path)', source: (env.CODEXD_SOCKET ?? '') !== '' ? 'environment' : from('codexd.socket') },
    { key: 'codexd.export_interval_ms', value: config.exportIntervalMs, source: from('codexd.export_interval_ms') },
    { key: 'codexd.flush_deadline_ms', value: config.flushDeadlineMs, source: from('codexd.flush_deadline_ms') },
    { key: 'codexd.idle_timeout_ms', value: config.idleTimeoutMs, source: from('codexd.idle_timeout_ms') },
    { key: 'codexd.session_idle_timeout_ms', value: config.sessionIdleTimeoutMs, source: from('codexd.session_idle_timeout_ms') },
    { key: 'codexd.log_level', value: config.logLevel, source: from('codexd.log_level') },
    { key: 'codexd.log_tool_content', value: config.logToolContent, source: from('codexd.log_tool_content') },
    { key: 'codexd.export_queue_max_bytes', value: config.delivery.queueMaxBytes, source: from('codexd.export_queue_max_bytes') },
    { key: 'codexd.export_spool_max_bytes', value: config.delivery.spoolMaxBytes, source: from('codexd.export_spool_max_bytes') },
    { key: 'codexd.export_retry_initial_ms', value: config.delivery.retryInitialMs, source: from('codexd.export_retry_initial_ms') },
    { key: 'codexd.export_retry_max_ms', value: config.delivery.retryMaxMs, source: from('codexd.export_retry_max_ms') },
    { key: 'codexd.export_max_request_bytes', value: config.delivery.maxRequestBytes, source: from('codexd.export_max_request_bytes') },
    { key: 'feedback.enabled', value: feedback.enabled, source: from('feedback.enabled') },
    {
      key: 'feedback.target',
      value: target === null ? 'none: reports wait in the spool' : target.kind === 'http' ? { endpoint: redactUrl(target.endpoint), headers: redactHeaders(target.headers) } : { sentry_dsn: redactDsn(target.dsn) },
      source: inFile('feedback.endpoint') || inFile('feedback.sentry_dsn') ? 'file' : 'default',
    },
    { key: 'feedback.max_spool_bytes', value: feedback.maxSpoolBytes, source: from('feedback.max_spool_bytes') },
    { key: 'feedback.retry_initial_ms', value: feedback.retryInitialMs, source: from('feedback.retry_initial_ms') },
    { key: 'feedback.retry_max_ms', value: feedback.retryMaxMs, source: from('feedback.retry_max_ms') },
  ];
}

/** Runs a `codexd config` subcommand: 0 when the config is good, 2 when it is not. */
export function config(args: string[]): number {
  const { flags, positionals } = parseCommand(args, { flags: ['json'], positionals: 1 });
  const [action] = positionals;
  const paths = resolvePaths();
  if (action === 'path') {
    if (flags.json) throw new UsageError('unknown option --json');
    process.stdout.write(`${paths.configFile}\n`);
    return 0;
  }
  if (action !== 'check') throw new UsageError('usage: codexd config path | check [--json]');
  const { json } = flags;
  let loaded: DaemonConfig;
  try {
    loaded = loadConfig(paths);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    if (json) process.stdout.write(`${JSON.stringify({ file: paths.configFile, ok: false, error: error.message }, null, 2)}\n`);
    else process.stderr.write(`codexd: ${error.message}\n`);
    return 2;
  }
  let root: Record<string, unknown> = {};
  try {
    root = parse(readFileSync(paths.configFile, 'utf8')) as Record<string, unknown>;
  } catch {
    // No file: every setting is a default or from the environment.
  }
  const rows = settings(loaded, root, process.env);
  if (json) {
    process.stdout.write(`${JSON.stringify({ file: paths.configFile, exists: loaded.file !== null, ok: true, settings: rows }, null, 2)}\n`);
    return 0;
  }
  const width = Math.max(...rows.map((row) => row.key.length));
  process.stdout.write(`${paths.configFile}${loaded.file === null ? ' (not found: defaults)' : ''}: ok\n`);
  for (const row of rows) process.stdout.write(`${row.key.padEnd(width)}  ${JSON.stringify(row.value)}  (${row.source})\n`);
  return 0;
}
