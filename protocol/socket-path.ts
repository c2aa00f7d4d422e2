/**
 * Where the per-user socket lives, computed from the environment alone. The daemon checks and
 * creates the folder; this only names it.
 */
/** Joins POSIX path parts; inputs are absolute folders and plain names. */
function join(...parts: string[]): string {
  return parts.map((part, index) => (index === 0 ? part.replace(/\/+$/, '') : part.replace(/^\/+|\/+$/g, ''))).join('/');
}

export interface SocketPathInputs {
  readonly platform: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** `process.getuid()`, or `null` where there is none (Windows). */
  readonly uid: number | null;
  /** The OS temp folder (`os.tmpdir()`). */
  readonly tmpdir: string;
  /** The user's login name, used only for the Windows pipe name. */
  readonly username: string;
  /** A socket path from config, which only `CODEXD_SOCKET` overrides. */
  readonly configured?: string;
}

export const SOCKET_FILE_NAME = 'codexd.sock';

/**
 * The socket path, in order of precedence: `CODEXD_SOCKET`; the configured path; on Linux
 * `$XDG_RUNTIME_DIR/codexd/codexd.sock`, else `<tmpdir>/codexd-<uid>/codexd.sock`; on macOS
 * `$TMPDIR/codexd-<uid>/codexd.sock` (macOS's `$TMPDIR` is already per user); on Windows
 * the named pipe `\\.\pipe\codexd-<user>`.
 */
export function resolveSocketPath(inputs: SocketPathInputs): string {
  const override = inputs.env.CODEXD_SOCKET;
  if (override !== undefined && override !== '') return override;
  if (inputs.configured !== undefined && inputs.configured !== '') return inputs.configured;
  if (inputs.platform === 'win32') {
    const user = inputs.username.replace(/[^A-Za-z0-9._-]/g, '_') || 'user';
    return `\\\\.\\pipe\\codexd-${user}`;
  }
  const runtime = inputs.env.XDG_RUNTIME_DIR;
  if (inputs.platform !== 'darwin' && runtime !== undefined && runtime.startsWith('/')) {
    return join(runtime, 'codexd', SOCKET_FILE_NAME);
  }
  const tmp = inputs.platform === 'darwin' && inputs.env.TMPDIR ? inputs.env.TMPDIR : inputs.tmpdir;
  return join(tmp, `codexd-${inputs.uid ?? 'user'}`, SOCKET_FILE_NAME);
}

/**
 * The folder for the files clients and the daemon share ({@link RUNTIME_FILES}): the socket's own
 * folder, or for a Windows named pipe (which lives in no folder) `<tmpdir>/codexd-<user>`.
 */
export function runtimeFolder(socketPath: string, tmpdir: string, username: string): string {
  if (!isNamedPipe(socketPath)) {
    const slash = socketPath.lastIndexOf('/');
    return slash <= 0 ? '/' : socketPath.slice(0, slash);
  }
  return join(tmpdir, `codexd-${username.replace(/[^A-Za-z0-9._-]/g, '_') || 'user'}`);
}

/** True for a Windows named pipe path, which has no folder to secure. */
export function isNamedPipe(path: string): boolean {
  return path.startsWith('\\\\.\\pipe\\') || path.startsWith('\\\\?\\pipe\\');
}

/**
 * Files in the socket's folder that clients and the daemon share. The folder is 0700, so only
 * the user's own processes can read or write them.
 */
export const RUNTIME_FILES = {
  /** Held by the running daemon, created exclusively as it starts: its pid, start time and release, a line each. */
  daemonLock: 'codexd.lock',
  /** Created exclusively by the client that is starting a daemon, so twenty clients start one. */
  spawnMarker: 'codexd.spawning',
  /** One line per failed automatic start (ISO time); the crash-loop guard reads it. */
  spawnFailures: 'codexd.spawn-failures',
  /** Records a host could not deliver before it exited, for the daemon to ingest. */
  handoffDir: 'handoff',
} as const;
