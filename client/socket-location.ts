/**
 * Where the client finds the daemon: the socket path (protocol/'s rules, from the environment)
 * and the socket's folder, where hand-off files and the spawn lock go. It reads the platform
 * facts those rules need without loading node:os on POSIX, where it costs 2 ms of a host's
 * start-up.
 */
import { resolveSocketPath, runtimeFolder } from '../protocol/index.js';

/** `os.tmpdir()` on POSIX, without loading node:os. */
function posixTmpdir(): string {
  const dir = process.env.TMPDIR || process.env.TMP || process.env.TEMP || '/tmp';
  return dir.length > 1 && dir.endsWith('/') ? dir.slice(0, -1) : dir;
}

/** The user name and temp folder the socket path rules need, without node:os on POSIX. */
function platformInfo(): { tmpdir: string; username: string } {
  if (process.platform !== 'win32') return { tmpdir: posixTmpdir(), username: process.env.USER ?? process.env.LOGNAME ?? 'user' };
  // Only Windows needs the user's name (for the pipe), and only there is node:os loaded.
  const os = process.getBuiltinModule('node:os');
  let username = process.env.USERNAME ?? 'user';
  try {
    username = os.userInfo().username;
  } catch {
    // No account entry for this user: the pipe gets the name from the environment.
  }
  return { tmpdir: os.tmpdir(), username };
}

/** The socket path (`socketPath` when given, else `CODEXD_SOCKET` or the per-user default) and its folder. */
export function socketLocation(socketPath: string | undefined): { socketPath: string; runtimeDir: string } {
  const platform = platformInfo();
  const path =
    socketPath ?? resolveSocketPath({ platform: process.platform, env: process.env, uid: typeof process.getuid === 'function' ? process.getuid() : null, ...platform });
  return { socketPath: path, runtimeDir: runtimeFolder(path, platform.tmpdir, platform.username) };
}
