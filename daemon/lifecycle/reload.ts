/**
 * Reloading the config (`SIGHUP`, `daemon/reload`): one at a time, in the order asked. What can
 * change at once does (exporters, redaction, log level, memory limits, feedback); a change to a
 * setting read only at start is reported as needing a restart. An invalid file changes nothing.
 */
import type { Logger } from 'pino';

import { type DaemonReload, type DaemonStatus, SIGNALS } from '../../protocol/index.js';
import { ConfigError, type DaemonConfig, loadConfig, ReloadError } from '../config.js';
import type { DaemonLogger } from '../logger.js';
import type { MemoryLimiter } from '../memory-limiter.js';
import type { DaemonPaths } from '../paths.js';
import { feedbackSettings, type Pipelines } from '../pipelines.js';

/** Settings a reload applies at once, as config keys, and where each is in the loaded config. */
const LIVE_SETTINGS: readonly [string, (config: DaemonConfig) => unknown][] = [
  ['otel.metrics_exporter', (config) => config.metrics],
  ['otel.exporter', (config) => config.logs],
  ['otel.trace_exporter', (config) => config.traces],
  ['otel.log_user_prompt', (config) => config.logUserPrompt],
  ['otel.span_attributes', (config) => config.spanAttributes],
  ['otel.tracestate', (config) => config.tracestate],
  ['codexd.log_tool_content', (config) => config.logToolContent],
  ['codexd.log_level', (config) => config.logLevel],
  ['codexd.memory_limit_mib', (config) => config.memory.limitBytes],
  ['codexd.memory_spike_limit_mib', (config) => config.memory.spikeBytes],
  ['feedback.enabled', (config) => config.feedback.enabled],
  ['feedback.target', (config) => config.feedback.target],
  ['feedback.retry_initial_ms', (config) => config.feedback.retryInitialMs],
  ['feedback.retry_max_ms', (config) => config.feedback.retryMaxMs],
];

/** Settings read once, at start: a reload reports a change to them as needing a restart. */
const RESTART_SETTINGS: readonly [string, (config: DaemonConfig) => unknown][] = [
  ['otel.environment', (config) => config.environment],
  ['codexd.socket', (config) => config.socketPath],
  ['codexd.otlp_receiver', (config) => config.otlpReceiver],
  ['codexd.export_interval_ms', (config) => config.exportIntervalMs],
  ['codexd.flush_deadline_ms', (config) => config.flushDeadlineMs],
  ['codexd.idle_timeout_ms', (config) => config.idleTimeoutMs],
  ['codexd.session_idle_timeout_ms', (config) => config.sessionIdleTimeoutMs],
  ['codexd.export_queue_max_bytes', (config) => config.delivery.queueMaxBytes],
  ['codexd.export_spool_max_bytes', (config) => config.delivery.spoolMaxBytes],
  ['codexd.export_retry_initial_ms', (config) => config.delivery.retryInitialMs],
  ['codexd.export_retry_max_ms', (config) => config.delivery.retryMaxMs],
  ['codexd.export_max_request_bytes', (config) => config.delivery.maxRequestBytes],
  ['feedback.max_spool_bytes', (config) => config.feedback.maxSpoolBytes],
];

const sameValue = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export interface ReloaderOptions {
  readonly paths: DaemonPaths;
  /** The config the daemon started with, and when. */
  readonly config: DaemonConfig;
  readonly startedAt: Date;
  readonly pipelines: Pipelines;
  readonly log: DaemonLogger;
  readonly logger: Logger;
  readonly memory: MemoryLimiter;
  readonly isStopping: () => boolean;
  /** After exporters changed: says where batches wait that no exporter of their signal sends now. */
  readonly onExportersChanged: () => void;
}

export interface Reloader {
  /** Throws {@link ReloadError} when the file is invalid; the daemon keeps the settings it had. */
  reload(trigger: string): Promise<DaemonReload.Result>;
  /** The config in force: the start's, or the last good reload's. */
  active(): DaemonConfig;
  /** For `daemon/status`. */
  status(): DaemonStatus.Result['config'];
}

export function createReloader(options: ReloaderOptions): Reloader {
  const { config, pipelines, logger } = options;
  let active = config;
  let loadedAt = options.startedAt;
  let reloads = 0;
  let lastReload: DaemonStatus.Result['config']['lastReload'] = null;
  let needsRestart: readonly string[] = [];
  let chain: Promise<unknown> = Promise.resolve();

  async function reloadNow(trigger: string): Promise<DaemonReload.Result> {
    const refuse = (message: string): never => {
      lastReload = { at: new Date().toISOString(), trigger, ok: false, error: message };
      logger.error({ trigger, error: message }, 'reload refused; the settings in force stay');
      throw new ReloadError(message);
    };
    if (options.isStopping()) refuse('the daemon is stopping');
    let next: DaemonConfig;
    try {
      next = loadConfig(options.paths);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      return refuse(error.message);
    }
    const applied = LIVE_SETTINGS.filter(([, of]) => !sameValue(of(active), of(next))).map(([key]) => key);
    const changedSignals = SIGNALS.filter((signal) => !sameValue(pipelines.destinations.exporter(signal), next[signal]));
    if (changedSignals.length > 0) {
      // What the pipelines hold goes to the queues it was accepted for before any switch: an
      // exporter turned off does not drop what was taken in while it was on.
      await Promise.all([pipelines.metrics.forceFlush(config.flushDeadlineMs), pipelines.lanes.forceFlush(config.flushDeadlineMs)]);
      for (const signal of changedSignals) {
        try {
          await pipelines.destinations.apply(signal, next[signal]);
        } catch (error) {
          // Signals switched before this one stay switched; this one keeps its exporter.
          refuse(`${signal} exporter: ${(error as Error).message}`);
        }
        pipelines.describeAs(signal, next[signal]);
      }
    }
    pipelines.setPolicy(next);
    options.log.setLevel(next.logLevel);
    options.memory.setLimits(next.memory.limitBytes, next.memory.limitBytes - next.memory.spikeBytes);
    if (applied.some((key) => key.startsWith('feedback.'))) await pipelines.feedback.reconfigure(feedbackSettings(next));
    active = next;
    loadedAt = new Date();
    reloads++;
    needsRestart = RESTART_SETTINGS.filter(([, of]) => !sameValue(of(config), of(next))).map(([key]) => key);
    lastReload = { at: loadedAt.toISOString(), trigger, ok: true, error: null };
    logger.info({ trigger, applied, needsRestart, exporters: pipelines.described() }, 'configuration reloaded');
    if (changedSignals.length > 0) options.onExportersChanged();
    return { file: next.file, applied, needsRestart };
  }

  return {
    reload(trigger) {
      const run = chain.then(() => reloadNow(trigger));
      chain = run.catch(() => undefined);
      return run;
    },
    active: () => active,
    status: () => ({ file: active.file, loadedAt: loadedAt.toISOString(), reloads, lastReload, needsRestart }),
  };
}
