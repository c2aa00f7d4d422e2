/**
 * What the config holds once read: the daemon's settings, their defaults, and the errors a bad
 * file raises. config.ts reads them; this file only declares them.
 */
import type { TracestateFields } from '../protocol/index.js';

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
