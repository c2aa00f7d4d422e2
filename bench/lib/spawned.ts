/**
 * Daemons a client auto-spawned (row 4). They are not the benchmark's children: the client
 * starts `node dist/codexd/codexd.js run --spawned` detached, in its own session, with the socket's
 * folder as its working directory, and the host that started it exits at once. So they are
 * found by that folder (every process whose cwd is the folder and whose command line has
 * `--spawned`) and by the pids their `daemon/status` reported, and ended explicitly: gracefully
 * between rounds, and with SIGKILL, synchronously, on every exit path of the benchmark.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Socket folders whose spawned daemons the benchmark owns. */
const folders = new Set<string>();
/** Pids reported by spawned daemons, with the folder each one runs in. */
const pids = new Map<number, string>();

export function watchSocketFolder(dir: string): void {
  folders.add(resolve(dir));
}

export function trackSpawnedPid(pid: number, dir: string): void {
  pids.set(pid, resolve(dir));
}

function cmdline(pid: number): string[] | null {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return null;
  }
}

function cwd(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return null;
  }
}

/** True while the process exists and is not a zombie (a reparented daemon may never be reaped). */
export function isRunning(pid: number): boolean {
  if (existsSync('/proc/self/stat')) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      return state !== 'Z' && state !== 'X';
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Is `pid` a running `--spawned` daemon whose working directory is `dir`? */
function isSpawnedDaemonIn(pid: number, dir: string): boolean {
  const args = cmdline(pid);
  return args !== null && args.includes('--spawned') && cwd(pid) === dir && isRunning(pid);
}

/** Running `--spawned` daemons whose working directory is `dir` (Linux: /proc). */
export function findSpawnedDaemons(dir: string): number[] {
  const wanted = resolve(dir);
  const found: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid !== process.pid && isSpawnedDaemonIn(pid, wanted)) found.push(pid);
  }
  return found;
}

export interface StopOutcome {
  /** How it ended: it exited on SIGTERM, or needed SIGKILL. */
  readonly how: 'sigterm' | 'sigkill' | 'already gone';
  readonly ms: number;
  /** Runtime files the daemon left behind (removed here): its socket, lock or spawn marker. */
  readonly leftOver: string[];
}

/** Files in the socket folder that say a daemon is (or was being) started. */
const RUNTIME_LEFTOVERS = ['codexd.lock', 'codexd.spawning', 'codexd.spawn-failures'];

/**
 * Stops one spawned daemon: SIGTERM (it drains, exports and removes its socket), SIGKILL after
 * `graceMs`; then removes what it left in the folder, so the next round starts from nothing.
 */
export async function stopSpawnedDaemon(pid: number, socketPath: string, graceMs = 8000): Promise<StopOutcome> {
  const dir = resolve(join(socketPath, '..'));
  const started = Date.now();
  let how: StopOutcome['how'] = 'already gone';
  if (isSpawnedDaemonIn(pid, dir)) {
    how = 'sigterm';
    process.kill(pid, 'SIGTERM');
    while (isRunning(pid)) {
      if (Date.now() - started > graceMs && how === 'sigterm') {
        how = 'sigkill';
        process.kill(pid, 'SIGKILL');
      }
      await sleep(5);
    }
  }
  pids.delete(pid);
  const leftOver: string[] = [];
  for (const path of [socketPath, ...RUNTIME_LEFTOVERS.map((name) => join(dir, name))]) {
    if (existsSync(path)) {
      leftOver.push(path.slice(dir.length + 1));
      rmSync(path, { force: true });
    }
  }
  return { how, ms: Date.now() - started, leftOver };
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * SIGKILLs every spawned daemon the benchmark owns: the tracked pids and whatever runs with
 * `--spawned` in a watched folder (twice, in case a host was starting one just then).
 * Synchronous, so an 'exit' handler can call it, and before the folders are removed (a removed
 * folder no longer matches a process's cwd). Returns the pids it killed.
 */
export function killSpawnedDaemonsSync(): number[] {
  const killed: number[] = [];
  for (let pass = 0; pass < 2; pass++) {
    const targets = new Set<number>();
    for (const [pid, dir] of pids) if (isSpawnedDaemonIn(pid, dir)) targets.add(pid);
    for (const dir of folders) for (const pid of findSpawnedDaemons(dir)) targets.add(pid);
    for (const pid of targets) {
      try {
        process.kill(pid, 'SIGKILL');
        killed.push(pid);
      } catch {
        // Gone meanwhile.
      }
    }
    if (targets.size === 0) break;
    Atomics.wait(pause, 0, 0, 50);
  }
  pids.clear();
  return killed;
}
