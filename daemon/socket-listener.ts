/**
 * Binds the per-user socket safely: the folder is created 0700 and must belong to this user
 * and be writable by nobody else; the socket is created 0600; a live daemon on the path is
 * detected and left alone; a stale socket file (nobody listening) is replaced.
 */
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';

import { isNamedPipe } from '../protocol/index.js';
import { acquireDaemonLock, type DaemonLock, DaemonLockedError } from './daemon-lock.js';

/** Longest Unix socket path Linux and macOS accept (sun_path less its terminator). */
export const MAX_UNIX_SOCKET_PATH_BYTES = 103;

/** How long to wait for a daemon already on the socket to answer a probe. */
const PROBE_TIMEOUT_MS = 1000;

/** Another daemon runs or is starting on this socket. */
export class SocketInUseError extends DaemonLockedError {}

export class UnsafeSocketFolderError extends Error {
  override readonly name = 'UnsafeSocketFolderError';
}

/**
 * Makes sure `dir` exists, is a real folder (not a symlink), belongs to this user and can be
 * entered by nobody else. A folder of ours that others can read or enter is tightened to 0700;
 * one that others can write, or that another user owns, is refused: something may already have
 * been planted in it.
 */
export function secureSocketFolder(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const info = lstatSync(dir);
  if (!info.isDirectory()) throw new UnsafeSocketFolderError(`socket folder ${dir} is not a directory (a symlink or file is in its place)`);
  const uid = typeof process.getuid === 'function' ? process.getuid() : null;
  if (uid !== null && info.uid !== uid) {
    throw new UnsafeSocketFolderError(`socket folder ${dir} belongs to uid ${info.uid}, not to this user (uid ${uid}); refusing to use it`);
  }
  if ((info.mode & 0o022) !== 0) {
    throw new UnsafeSocketFolderError(
      `socket folder ${dir} is writable by others (mode ${(info.mode & 0o777).toString(8)}); remove it or chmod 700 it and start again`,
    );
  }
  if ((info.mode & 0o077) !== 0) chmodSync(dir, 0o700);
}

function probe(path: string): Promise<'live' | 'stale'> {
  return new Promise((resolve) => {
    const socket: Socket = connect(path);
    const done = (result: 'live' | 'stale'): void => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done('live'));
    socket.once('connect', () => done('live'));
    socket.once('error', (error: NodeJS.ErrnoException) => done(error.code === 'ECONNREFUSED' || error.code === 'ENOENT' ? 'stale' : 'live'));
  });
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    // The socket inherits the umask: bind it 0600 from the start, not chmod it after.
    const previous = process.umask(0o177);
    try {
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    } finally {
      process.umask(previous);
    }
  });
}

export interface Listening {
  readonly server: Server;
  /** Releases the daemon lock (none for a named pipe or an inherited socket). */
  release(): void;
}

/**
 * Listens on `path`, holding the daemon lock in its folder. Throws {@link SocketInUseError}
 * (a {@link DaemonLockedError}) when a daemon already runs or is starting there, and
 * {@link UnsafeSocketFolderError} when the folder cannot be trusted.
 */
export async function listenOnSocket(path: string, onConnection: (socket: Socket) => void): Promise<Listening> {
  const server = createServer({ allowHalfOpen: true }, onConnection);
  if (isNamedPipe(path)) {
    // Creating a named pipe that exists fails, so the bind itself is the lock.
    await listen(server, path);
    return { server, release: () => undefined };
  }
  if (Buffer.byteLength(path) > MAX_UNIX_SOCKET_PATH_BYTES) {
    throw new Error(`socket path ${path} is ${Buffer.byteLength(path)} bytes; Unix sockets allow at most ${MAX_UNIX_SOCKET_PATH_BYTES}. Set CODEXD_SOCKET to a shorter path`);
  }
  const dir = dirname(path);
  secureSocketFolder(dir);
  const exists = (): ReturnType<typeof lstatSync> | undefined => {
    try {
      return lstatSync(path);
    } catch {
      return undefined;
    }
  };
  const lock: DaemonLock = await acquireDaemonLock(dir, path, async () => exists() !== undefined && (await probe(path)) === 'live');
  try {
    const existing = exists();
    if (existing !== undefined) {
      if (!existing.isSocket()) throw new UnsafeSocketFolderError(`${path} exists and is not a socket; refusing to replace it`);
      // A daemon that holds no lock (started by hand with another CODEXD lock folder, or an
      // older release) may still answer here.
      if ((await probe(path)) === 'live') throw new SocketInUseError(`a codexd daemon is already running on ${path}`);
      unlinkSync(path);
    }
    await listen(server, path);
    chmodSync(path, 0o600);
  } catch (error) {
    lock.release();
    throw error;
  }
  return { server, release: () => lock.release() };
}

/**
 * Serves on a listening socket inherited from a service manager (systemd socket activation:
 * fd 3). The manager owns the path and its permissions; there is nothing to lock.
 */
export async function listenOnInheritedSocket(fd: number, onConnection: (socket: Socket) => void): Promise<Listening> {
  const server = createServer({ allowHalfOpen: true }, onConnection);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ fd }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { server, release: () => undefined };
}
