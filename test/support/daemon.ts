/**
 * Starts `codexd run` as a real child process in a private temp home: HOME, XDG_* and
 * CODEX_HOME point into a fresh folder, the socket into a short path beside it, and the test
 * writes the config.toml the daemon reads.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { DaemonStatus } from '../../protocol/index.js';
import { openControlConnection } from '../../cli/control-client.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = join(ROOT, 'dist/codexd/codexd.js');

export interface TestHome {
  readonly dir: string;
  readonly socketPath: string;
  readonly codexHome: string;
  readonly env: NodeJS.ProcessEnv;
  writeConfig(toml: string): void;
  remove(): void;
}

/** A private home for one test: nothing of the real user's is read or written. */
export function createTestHome(): TestHome {
  const dir = mkdtempSync(join(tmpdir(), 'cdx-'));
  const codexHome = join(dir, 'codex');
  mkdirSync(codexHome);
  const socketPath = join(dir, 'run', 'codexd.sock');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: join(dir, 'home'),
    XDG_DATA_HOME: join(dir, 'data'),
    XDG_STATE_HOME: join(dir, 'state'),
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_CACHE_HOME: join(dir, 'cache'),
    XDG_RUNTIME_DIR: join(dir, 'run'),
    CODEX_HOME: codexHome,
    CODEXD_SOCKET: socketPath,
    // Tests start their daemons themselves unless they test auto-spawn, which removes this.
    CODEXD_NO_SPAWN: '1',
  };
  return {
    dir,
    socketPath,
    codexHome,
    env,
    writeConfig(toml) {
      writeFileSync(join(codexHome, 'config.toml'), toml);
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A config.toml exporting every signal (metrics, the log lane, the trace lane) to `endpoint`
 * over OTLP/gRPC, every `intervalMs`; `extra` lines go at the end of `[otel]` and `[codexd]`.
 */
export function grpcConfig(endpoint: string, intervalMs = 200, extra: { otel?: string; codexd?: string } = {}): string {
  const exporter = `{ otlp-grpc = { endpoint = "${endpoint}" } }`;
  return [
    '[otel]',
    `metrics_exporter = ${exporter}`,
    `exporter = ${exporter}`,
    `trace_exporter = ${exporter}`,
    extra.otel ?? '',
    '',
    '[codexd]',
    `export_interval_ms = ${intervalMs}`,
    'flush_deadline_ms = 3000',
    extra.codexd ?? '',
    '',
  ].join('\n');
}

export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  status(): Promise<DaemonStatus.Result>;
  request<R>(method: string, params: object): Promise<R>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function waitForSocket(path: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await canConnect(path)) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`nothing listened on ${path} within ${timeoutMs} ms`);
}

export interface ProcessResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from spawn to exit. */
  readonly ms: number;
}

/** Runs `node ARGS` to completion under the pinned Node, killing it after `timeoutMs`. */
export function runProcess(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs: number): Promise<ProcessResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`node ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    // 'close', not 'exit': a busy machine can deliver the last of stdout after the exit.
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** Runs the codexd command line to completion. */
export function runCli(home: TestHome, args: readonly string[], timeoutMs = 20_000): Promise<ProcessResult> {
  return runProcess([CLI, ...args], home.env, timeoutMs);
}

/** Starts `codexd run --log-stderr` and waits until its socket accepts connections. */
export async function startDaemonProcess(home: TestHome, extraArgs: readonly string[] = []): Promise<DaemonProcess> {
  const child = spawn(process.execPath, [CLI, 'run', '--log-stderr', ...extraArgs], { env: home.env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const ready = waitForSocket(home.socketPath);
  const early = exited.then(({ code }) => {
    throw new Error(`codexd run exited with ${code} before listening:\n${stderr}`);
  });
  await Promise.race([ready, early]);
  early.catch(() => undefined);

  async function request<R>(method: string, params: object): Promise<R> {
    const connection = await openControlConnection(home.socketPath, 5000);
    try {
      return await connection.request<R>(method, params, 15_000);
    } finally {
      connection.close();
    }
  }

  return {
    child,
    exited,
    stderr: () => stderr,
    status: () => request<DaemonStatus.Result>('daemon/status', {}),
    request,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** A daemon started as given (logging to its file, under a shell's limits, ...): the process and what it wrote on stderr. */
export interface SpawnedDaemon {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  /** SIGKILL if it still runs: for a test's `finally`. */
  kill(): void;
}

/**
 * Starts `command` (by default `codexd run` logging to its file, as a daemon a client or a
 * service manager starts does) and waits until the socket accepts connections.
 */
export async function spawnDaemon(home: TestHome, command: readonly string[] = [process.execPath, CLI, 'run']): Promise<SpawnedDaemon> {
  const child = spawn(command[0] as string, command.slice(1), { env: home.env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  try {
    await waitForSocket(home.socketPath);
  } catch (error) {
    kill();
    throw error;
  }
  return { child, exited, stderr: () => stderr, kill };
}

/** Runs a fixture script under the pinned Node with the test home's environment (or `env`). */
export function runNode(home: TestHome, script: string, args: readonly string[], timeoutMs = 30_000, env: NodeJS.ProcessEnv = home.env): Promise<ProcessResult> {
  return runProcess([script, ...args], env, timeoutMs);
}

/** Pids of daemons a client auto-spawned for this home (their working folder is the socket's). */
export function spawnedDaemonPids(home: TestHome): number[] {
  const dir = join(home.dir, 'run');
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`) !== dir) continue;
      if (!readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('--spawned')) continue;
      pids.push(Number(entry));
    } catch {
      // Exited while we looked.
    }
  }
  return pids;
}

/** Environment of a home with auto-spawn on. */
export function spawningEnv(home: TestHome): NodeJS.ProcessEnv {
  const env = { ...home.env };
  delete env.CODEXD_NO_SPAWN;
  return env;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
