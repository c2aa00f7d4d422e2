/**
 * Child processes of the benchmark, tracked so every one of them is ended on success, on
 * failure and on Ctrl-C. Every child runs on the pinned Node (`process.execPath`).
 */
import { type ChildProcess, spawn, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

const live = new Set<ChildProcess>();

/** Starts a tracked child. Its stdio defaults to ignored stdin and piped stdout/stderr. */
export function startChild(args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  live.add(child);
  child.once('exit', () => live.delete(child));
  child.once('error', () => live.delete(child));
  return child;
}

export interface Finished {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time from just before spawn() to the child's 'exit' event, in milliseconds. */
  readonly wallMs: number;
}

/** Collects a child's output and resolves when it exits (or rejects if it cannot start). */
export function finished(child: ChildProcess, startedAt = performance.now()): Promise<Finished> {
  let stdout = '';
  let stderr = '';
  let exitedAt = Number.NaN;
  child.once('exit', () => (exitedAt = performance.now()));
  child.stdout?.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr, wallMs: (Number.isNaN(exitedAt) ? performance.now() : exitedAt) - startedAt }));
  });
}

/** Runs one process to completion and times it from spawn to exit; `started` is told of it once spawned. Throws on a non-zero exit. */
export async function runTimed(args: readonly string[], options: SpawnOptions = {}, timeoutMs = 60_000, started?: (child: ChildProcess) => void): Promise<Finished> {
  const startedAt = performance.now();
  const child = startChild(args, options);
  started?.(child);
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  try {
    const result = await finished(child, startedAt);
    if (result.code !== 0) {
      throw new Error(`${args.join(' ')} exited with ${result.code ?? result.signal}\n${result.stderr.slice(-2000)}`);
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** Asks a child to stop (SIGTERM), then kills it if it has not exited within `graceMs`. */
export async function stopChild(child: ChildProcess, graceMs = 8000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Kills every child still running, synchronously (safe in an 'exit' handler). */
export function killAllChildren(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  live.clear();
}

/** user+system CPU of a process from /proc, in ms; null where /proc is not there. */
export function processCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after "pid (comm) ".
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
  } catch {
    return null;
  }
}

/** Resolves once a child has printed the line `text` on its stdout; rejects if it exits first or `timeoutMs` passes. */
export function waitForLine(child: ChildProcess, text: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`a client process did not print "${text}" within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('utf8');
      if (seen.includes(`${text}\n`)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    // 'close': the last of stdout can arrive after the exit.
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`a client process exited with ${code} before printing "${text}"`));
    });
  });
}

/**
 * The last line a fixture printed, parsed as JSON: what every fixture reports as it ends. Does
 * not check the shape; the caller names it.
 */
export function lastJsonLine<T>(stdout: string): T {
  return JSON.parse(stdout.trim().split('\n').pop() as string) as T;
}
