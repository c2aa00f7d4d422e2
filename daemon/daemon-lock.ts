/**
 * The lock that makes "exactly one daemon" hold when many start at once: a file created
 * exclusively (O_EXCL) in the socket's folder, holding the holder's pid, start time and release. Taking
 * it is atomic; the stale cases are handled:
 *
 * - the pid in it is dead: the lock is broken and taken;
 * - the pid is alive and a daemon answers on the socket: another daemon runs, give up;
 * - the pid is alive, nothing answers yet, and the lock is young: a daemon is starting, give up;
 * - the pid is alive but nothing has answered for longer than the start grace: the pid was
 *   reused or the holder hung; the lock is broken and taken.
 *
 * A stale lock is broken by renaming it to a unique name first, which only one contender can
 * do, so two contenders cannot both break it and both believe they hold the next one. The lock
 * is never seen half-written: it is linked into place complete.
 */
import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';

import { PACKAGE_VERSION, RUNTIME_FILES } from '../protocol/index.js';
import { isAlive } from './process-alive.js';

export const LOCK_FILE_NAME = RUNTIME_FILES.daemonLock;
/** How long a live lock holder may take to start listening before its lock counts as stale. */
export const STARTING_GRACE_MS = 10_000;
const MAX_ATTEMPTS = 5;

export class DaemonLockedError extends Error {
  override readonly name = 'DaemonLockedError';
}

export interface DaemonLock {
  /** Removes the lock file if it is still ours. */
  release(): void;
}

function readHolder(path: string): { pid: number; ageMs: number } | null {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').split('\n')[0] ?? '', 10);
    return { pid: Number.isSafeInteger(pid) && pid > 0 ? pid : 0, ageMs: Date.now() - statSync(path).mtimeMs };
  } catch {
    return null;
  }
}

/**
 * Takes the lock in `dir` or throws {@link DaemonLockedError} saying who holds it.
 * `isAnswering` tells whether a daemon answers on the socket right now.
 */
export async function acquireDaemonLock(dir: string, socketPath: string, isAnswering: () => Promise<boolean>): Promise<DaemonLock> {
  const path = join(dir, LOCK_FILE_NAME);
  // Its release too: a client hands its records over as a file only to a daemon as new as it (client/exit-handoff.ts).
  const mine = `${process.pid}\n${new Date().toISOString()}\n${PACKAGE_VERSION}\n`;
  // The lock is created complete: written under a private name, then hard-linked into place,
  // which fails if it exists. An O_EXCL create followed by a write would leave a moment in
  // which a contender reads an empty lock, takes it for stale and breaks it.
  const draft = `${path}.${process.pid}`;
  const fd = openSync(draft, 'w', 0o600);
  try {
    writeSync(fd, mine);
  } finally {
    closeSync(fd);
  }
  try {
    return await takeLock(path, draft, mine, socketPath, isAnswering);
  } finally {
    rmSync(draft, { force: true });
  }
}

async function takeLock(path: string, draft: string, mine: string, socketPath: string, isAnswering: () => Promise<boolean>): Promise<DaemonLock> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    try {
      linkSync(draft, path);
      return {
        release() {
          try {
            if (readFileSync(path, 'utf8') === mine) unlinkSync(path);
          } catch {
            // Already gone.
          }
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = readHolder(path);
    if (holder === null) continue; // Released between our attempt and our read: try again.
    if (holder.pid === 0 && holder.ageMs < STARTING_GRACE_MS) {
      // Unreadable yet young: someone (an older release) is writing it now.
      throw new DaemonLockedError(`another codexd is starting on ${socketPath}`);
    }
    if (holder.pid !== 0 && holder.pid !== process.pid && isAlive(holder.pid)) {
      if (await isAnswering()) throw new DaemonLockedError(`a codexd daemon is already running on ${socketPath}`);
      if (holder.ageMs < STARTING_GRACE_MS) throw new DaemonLockedError(`another codexd (pid ${holder.pid}) is starting on ${socketPath}`);
    }
    const aside = `${path}.stale-${process.pid}-${attempt}`;
    try {
      renameSync(path, aside);
      unlinkSync(aside);
    } catch {
      // Another contender broke it first; go round and race for the new one.
    }
  }
  throw new DaemonLockedError(`could not take ${path} after ${MAX_ATTEMPTS} attempts; is another codexd starting?`);
}
