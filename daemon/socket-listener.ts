/**
 * Binds the per-user socket safely: the folder is created 0700 and must belong to this user
 * and be writable by nobody else; the socket is created 0600; a live daemon on the path is
 * detected and left alone; a stale socket file (nobody listening) is replaced.
 */
import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';

import { isNamedPipe } from '../protocol/index.js';

/** Longest Unix socket path Linux and macOS accept (sun_path less its terminator). */
export const MAX_UNIX_SOCKET_PATH_BYTES = 103;

/** How long to wait for a daemon already on the socket to answer a probe. */
const PROBE_TIMEOUT_MS = 1000;

export class SocketInUseError extends Error {
  override readonly name = 'SocketInUseError';
}

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

/**
 * Listens on `path`. Throws {@link SocketInUseError} when a daemon already answers there and
 * {@link UnsafeSocketFolderError} when the folder cannot be trusted.
 */
export async function listenOnSocket(path: string, onConnection: (socket: Socket) => void): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, onConnection);
  if (isNamedPipe(path)) {
    await listen(server, path);
    return server;
  }
  if (Buffer.byteLength(path) > MAX_UNIX_SOCKET_PATH_BYTES) {
    throw new Error(`socket path ${path} is ${Buffer.byteLength(path)} bytes; Unix sockets allow at most ${MAX_UNIX_SOCKET_PATH_BYTES}. Set CODEXD_SOCKET to a shorter path`);
  }
  secureSocketFolder(dirname(path));
  let existing: ReturnType<typeof lstatSync> | undefined;
  try {
    existing = lstatSync(path);
  } catch {
    existing = undefined;
  }
  if (existing !== undefined) {
    if (!existing.isSocket()) throw new UnsafeSocketFolderError(`${path} exists and is not a socket; refusing to replace it`);
    if ((await probe(path)) === 'live') throw new SocketInUseError(`a codexd daemon is already running on ${path}`);
    unlinkSync(path);
  }
  await listen(server, path);
  chmodSync(path, 0o600);
  return server;
}
