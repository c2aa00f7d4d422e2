/**
 * A private codexd for the benchmark: its own temp folder for HOME, XDG_*, CODEX_HOME and the
 * socket, a config.toml, `node dist/codexd/codexd.js run` as a child, and a control connection
 * for `daemon/status`.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { DAEMON_NODE_FLAGS, type DaemonStatus, type SignalCounts } from '../../dist/protocol/index.js';
import { type ControlConnection, openControlConnection } from '../../dist/cli/control-client.js';
import { startChild, stopChild } from './processes.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DAEMON_CLI = join(ROOT, 'dist/codexd/codexd.js');
export const ORPHAN_GUARD = join(ROOT, 'bench/fixtures/orphan-guard.mjs');
/** The scripts the benchmark runs as clients, CLIs and SDK baselines. */
export const FIXTURES = join(ROOT, 'bench/fixtures');

export interface BenchEnv {
  readonly root: string;
  readonly socketPath: string;
  readonly telemetryDir: string;
  /** The daemon's state folder (`$XDG_STATE_HOME/codexd`): its log, its export spool and its journal. */
  readonly stateDir: string;
  /** The environment every child gets: the temp folders, and no inherited OTEL_* or CODEXD_*. */
  readonly env: NodeJS.ProcessEnv;
}

const created: string[] = [];

export interface BenchEnvOptions {
  /**
   * `[codexd] idle_timeout_ms`, after which an auto-spawned daemon exits by itself (row 4: a
   * safety net should the benchmark be killed before it can end them).
   */
  readonly idleTimeoutMs?: number;
  /** Exports every signal (metrics, the log lane, the trace lane) over OTLP/gRPC to this endpoint instead of to files (row 7). */
  readonly otlpEndpoint?: string;
  /** More `[codexd]` keys, e.g. `export_interval_ms` (which replaces the default 1000) or the export queue's bounds. */
  readonly codexd?: Readonly<Record<string, number>>;
}

/** Makes the temp folder tree and a config.toml. The socket path stays short (Unix sockets allow ~103 bytes). */
export function createBenchEnv(options: BenchEnvOptions = {}): BenchEnv {
  const root = mkdtempSync(join(tmpdir(), 'cxb-'));
  created.push(root);
  const dirs = {
    home: join(root, 'home'),
    config: join(root, 'xdg/config'),
    data: join(root, 'xdg/data'),
    state: join(root, 'xdg/state'),
    cache: join(root, 'xdg/cache'),
    runtime: join(root, 'run'),
    codexHome: join(root, 'codex'),
  };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  const telemetryDir = join(root, 'telemetry');
  // The file exporter (the default) is kept on purpose, and named for every signal (metrics, the
  // log lane, the trace lane): with "none" the daemon skips the SDK altogether, and the ingest
  // figures would not include socket -> OpenTelemetry SDK (-> file, for the event lanes).
  const exporter = options.otlpEndpoint === undefined ? '"file"' : `{ otlp-grpc = { endpoint = ${JSON.stringify(options.otlpEndpoint)} } }`;
  const codexd: Record<string, number> = { export_interval_ms: 1000, ...options.codexd };
  if (options.idleTimeoutMs !== undefined) codexd.idle_timeout_ms = options.idleTimeoutMs;
  writeFileSync(
    join(dirs.codexHome, 'config.toml'),
    [
      '[otel]',
      `metrics_exporter = ${exporter}`,
      `exporter = ${exporter}`,
      `trace_exporter = ${exporter}`,
      '',
      '[codexd]',
      ...Object.entries(codexd).map(([key, value]) => `${key} = ${value}`),
      '',
      '[codexd.file_exporter]',
      `dir = ${JSON.stringify(telemetryDir)}`,
      '',
    ].join('\n'),
  );
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith('OTEL_') || key.startsWith('CODEXD_') || key.startsWith('XDG_') || key === 'CODEX_HOME' || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  const socketPath = join(root, 's', 'd.sock');
  Object.assign(env, {
    HOME: dirs.home,
    XDG_CONFIG_HOME: dirs.config,
    XDG_DATA_HOME: dirs.data,
    XDG_STATE_HOME: dirs.state,
    XDG_CACHE_HOME: dirs.cache,
    XDG_RUNTIME_DIR: dirs.runtime,
    CODEX_HOME: dirs.codexHome,
    CODEXD_SOCKET: socketPath,
    // The benchmark starts its daemons itself; a client must never start a detached one that
    // would outlive the run (the clients' auto-start is only taken when nothing answers).
    CODEXD_NO_SPAWN: '1',
  });
  return { root, socketPath, telemetryDir, stateDir: join(dirs.state, 'codexd'), env };
}

/** Removes every temp folder made by {@link createBenchEnv}; synchronous, so an 'exit' handler can call it. */
export function removeBenchEnvs(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
}

export interface RunningDaemon {
  readonly child: ChildProcess;
  readonly pid: number;
  status(): Promise<DaemonStatus.Result>;
  metrics(): Promise<SignalCounts>;
  stop(): Promise<void>;
}

/**
 * Starts `codexd run` and waits until it listens and answers `initialize`. `nodeArgs` go before
 * the script (e.g. `--cpu-prof --cpu-prof-dir=DIR` to profile the daemon).
 */
export async function startDaemon(bench: BenchEnv, nodeArgs: readonly string[] = []): Promise<RunningDaemon> {
  // Started as every launcher starts it (its Node flags), plus what the caller adds.
  const child = startChild([...DAEMON_NODE_FLAGS, ...nodeArgs, '--import', ORPHAN_GUARD, DAEMON_CLI, 'run'], { env: { ...bench.env, BENCH_REMOVE_ON_ORPHAN: bench.root }, cwd: bench.root });
  let stderr = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`codexd did not start within 15 s:\n${stderr}`)), 15_000);
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
      if (stderr.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`codexd exited with ${code} before listening:\n${stderr}`));
    });
  });
  const control: ControlConnection = await openControlConnection(bench.socketPath, 5000);
  const status = (): Promise<DaemonStatus.Result> => control.request<DaemonStatus.Result>('daemon/status', {}, 10_000);
  return {
    child,
    pid: child.pid as number,
    status,
    metrics: async () => (await status()).signals.metrics,
    async stop() {
      control.close();
      await stopChild(child);
    },
  };
}
