/**
 * What a client does synchronously in its host's `exit` event, when no event loop will run
 * again: finish writing to the daemon's socket with blocking writes, and hand over what cannot
 * be written as a file in the socket's folder, which the daemon ingests.
 */
import type { Socket } from 'node:net';

import { compareVersions, type Handoff, PACKAGE_VERSION, RUNTIME_FILES } from '../protocol/index.js';

/** Longest a host's exit may spend writing to the socket before handing the rest over as a file. */
export const EXIT_WRITE_DEADLINE_MS = 250;
/** Hand-off files allowed to wait for a daemon; beyond it records are dropped (and counted by the client). */
export const MAX_HANDOFF_FILES = 256;

export type { Handoff } from '../protocol/index.js';

const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes `bytes` to a non-blocking socket fd, waiting out EAGAIN in 1 ms sleeps until
 * `deadline`. Returns the number of bytes written (all of them, or fewer when the deadline
 * passed or the socket failed).
 */
export function writeAllSync(fd: number, bytes: Uint8Array, deadline: number): number {
  const { writeSync } = process.getBuiltinModule('node:fs');
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(fd, bytes, offset, bytes.length - offset);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() >= deadline) return offset;
      // The daemon is reading in another process; give it a moment.
      Atomics.wait(sleeper, 0, 0, 1);
    }
  }
  return offset;
}

/**
 * Reads a non-blocking socket fd, waiting out EAGAIN in 1 ms sleeps, and hands each chunk to
 * `take` until it returns true (`'done'`), the peer closes or the read fails (`'closed'`), or
 * `deadline` passes (`'deadline'`).
 */
export function readUntilSync(fd: number, deadline: number, take: (chunk: Buffer) => boolean): 'done' | 'closed' | 'deadline' {
  const { readSync } = process.getBuiltinModule('node:fs');
  const buffer = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    let read: number;
    try {
      read = readSync(fd, buffer, 0, buffer.length, null);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') return 'closed';
      if (Date.now() >= deadline) return 'deadline';
      Atomics.wait(sleeper, 0, 0, 1);
      continue;
    }
    if (read === 0) return 'closed';
    if (take(Buffer.from(buffer.subarray(0, read)))) return 'done';
    if (Date.now() >= deadline) return 'deadline';
  }
}

/**
 * Finishes writing `frames` to the socket `fd` with blocking writes until `deadline`, skipping
 * the first `alreadySent` bytes (the part of the first frame the kernel already took). Returns
 * the index of the first frame not written whole, `frames.length` when all were: the daemon
 * discards a partly written frame when this process's socket closes.
 */
export function writeFramesSync(fd: number, frames: readonly { readonly frame: Uint8Array }[], alreadySent: number, deadline: number): number {
  let skip = alreadySent;
  for (let index = 0; index < frames.length; index++) {
    const frame = (frames[index] as { readonly frame: Uint8Array }).frame;
    if (skip >= frame.length) {
      skip -= frame.length;
      continue;
    }
    const rest = frame.subarray(Math.max(0, skip));
    skip = 0;
    if (writeAllSync(fd, rest, deadline) < rest.length) return index;
  }
  return frames.length;
}

/**
 * The socket's file descriptor and the bytes still queued in libuv for it (written by the
 * client, not yet accepted by the kernel). Both are Node internals, stable for years; where they
 * are missing (Windows pipes), `null`, and the caller falls back to a hand-off file.
 */
export function socketInternals(socket: Socket): { fd: number; queuedBytes: number } | null {
  const handle = (socket as unknown as { _handle?: { fd?: unknown; writeQueueSize?: unknown } })._handle;
  if (handle === undefined || typeof handle.fd !== 'number' || handle.fd < 0 || typeof handle.writeQueueSize !== 'number') return null;
  return { fd: handle.fd, queuedBytes: handle.writeQueueSize };
}

/**
 * Longest a hand-off file may wait in the folder before the daemon counts as not taking them
 * (the daemon takes one within milliseconds of its write, or a second while it is busy).
 */
export const HANDOFF_STALE_MS = 10_000;

/**
 * Whether a daemon runs that takes hand-off files as they come: the lock it holds while it runs
 * names a live process of this user and a release no older than this client's, and no file has
 * waited in the folder longer than {@link HANDOFF_STALE_MS}, nor are there more than half of
 * {@link MAX_HANDOFF_FILES} (a lock left by a killed daemon whose pid came back in another
 * process is found out so). A handful of system calls; where there is no lock (a Windows named
 * pipe, a socket-activated daemon), false.
 */
export function daemonTakesHandoffs(runtimeDir: string, now: number = Date.now()): boolean {
  const { readdirSync, readFileSync } = process.getBuiltinModule('node:fs');
  const { join } = process.getBuiltinModule('node:path');
  try {
    // As UTF-8 (the lock is ASCII): Node reads that in one call into C++, any other encoding in a
    // JavaScript loop. With the write's encoding below, a short CLI's close() takes 0.08-0.12 ms less.
    const [pidText = '', , release = ''] = readFileSync(join(runtimeDir, RUNTIME_FILES.daemonLock), 'utf8').split('\n');
    const pid = Number.parseInt(pidText, 10);
    // An older daemon (or one that does not say) is replaced by the first client that connects.
    if (!(pid > 0) || !/^\d+\.\d+\.\d+/.test(release) || compareVersions(release, PACKAGE_VERSION) < 0) return false;
    // Throws for a pid that is gone, and (EPERM) for another user's: not this user's daemon.
    process.kill(pid, 0);
  } catch {
    return false;
  }
  let names: string[];
  try {
    names = readdirSync(join(runtimeDir, RUNTIME_FILES.handoffDir));
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
  if (names.length > MAX_HANDOFF_FILES / 2) return false;
  for (const name of names) {
    // `<pid>-<epoch ms>-<random>.json` (writeHandoffFile); temporary and refused files start with a dot.
    if (name.startsWith('.') || !name.endsWith('.json')) continue;
    const writtenAt = Number(name.split('-')[1]);
    if (Number.isFinite(writtenAt) && now - writtenAt > HANDOFF_STALE_MS) return false;
  }
  return true;
}

/**
 * Writes a hand-off file atomically (temp file, then rename) under the runtime folder. Returns
 * false when the folder holds too many already or cannot be written.
 */
export function writeHandoffFile(runtimeDir: string, handoff: Handoff): boolean {
  const { mkdirSync, readdirSync, renameSync, writeFileSync } = process.getBuiltinModule('node:fs');
  const { join } = process.getBuiltinModule('node:path');
  const dir = join(runtimeDir, RUNTIME_FILES.handoffDir);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (readdirSync(dir).length >= MAX_HANDOFF_FILES) return false;
    const name = `${handoff.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}.json`;
    const temp = join(dir, `.${name}.tmp`);
    // The encoding named, as the lock's read above: Node then writes the string in one call into C++.
    writeFileSync(temp, JSON.stringify(handoff), { mode: 0o600, encoding: 'utf8' });
    renameSync(temp, join(dir, name));
    return true;
  } catch {
    return false;
  }
}
