/**
 * The folders codexd uses on this machine, resolved once from the environment: where it keeps
 * exported files (data), its log (state), and where Codex keeps its config.
 */
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

import envPaths from 'env-paths';

import { resolveSocketPath } from '../protocol/index.js';

export interface DaemonPaths {
  /** `env-paths` data folder, e.g. `~/.local/share/codexd`. */
  readonly dataDir: string;
  /** `env-paths` log folder, e.g. `~/.local/state/codexd`: the user's state directory. */
  readonly logDir: string;
  /** The feedback spool, in the state directory. */
  readonly feedbackDir: string;
  readonly logFile: string;
  /** `$CODEX_HOME`, default `~/.codex`. */
  readonly codexHome: string;
  readonly configFile: string;
}

export function resolvePaths(env: NodeJS.ProcessEnv = process.env): DaemonPaths {
  const paths = envPaths('codexd', { suffix: '' });
  const codexHome = env.CODEX_HOME !== undefined && env.CODEX_HOME !== '' ? env.CODEX_HOME : join(homedir(), '.codex');
  return {
    dataDir: paths.data,
    logDir: paths.log,
    feedbackDir: join(paths.log, 'feedback'),
    logFile: join(paths.log, 'codexd.log'),
    codexHome,
    configFile: join(codexHome, 'config.toml'),
  };
}

/** The login name (used for the Windows pipe and runtime folder names). */
export function userName(): string {
  try {
    return userInfo().username;
  } catch {
    // userInfo() throws when the uid has no passwd entry (some containers).
    return process.env.USER ?? process.env.USERNAME ?? 'user';
  }
}

/** The socket path for this process, honouring `CODEXD_SOCKET` and then `configured`. */
export function socketPathFor(configured?: string, env: NodeJS.ProcessEnv = process.env): string {
  return resolveSocketPath({
    platform: process.platform,
    env,
    uid: typeof process.getuid === 'function' ? process.getuid() : null,
    tmpdir: tmpdir(),
    username: userName(),
    ...(configured === undefined ? {} : { configured }),
  });
}
