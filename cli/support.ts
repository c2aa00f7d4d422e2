/**
 * What every `codexd` command shares: argument parsing, usage errors, and one control
 * connection to the daemon.
 */
import { ConfigError, loadConfig } from '../daemon/config.js';
import { openControlConnection } from './control-client.js';
import { resolvePaths, socketPathFor } from '../daemon/paths.js';

export const CONNECT_TIMEOUT_MS = 2000;
export const REQUEST_TIMEOUT_MS = 10_000;

/** Bad usage: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

export function takeFlag(args: string[], flag: string): boolean {
  const at = args.indexOf(flag);
  if (at < 0) return false;
  args.splice(at, 1);
  return true;
}

export function takeOption(args: string[], option: string): string | undefined {
  const at = args.indexOf(option);
  if (at < 0) return undefined;
  const value = args[at + 1];
  if (value === undefined || value.startsWith('--')) throw new UsageError(`${option} needs a value`);
  args.splice(at, 2);
  return value;
}

export function rejectUnknown(args: readonly string[]): void {
  const unknown = args.find((arg) => arg.startsWith('--'));
  if (unknown !== undefined) throw new UsageError(`unknown option ${unknown}`);
  if (args.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(args[0])}`);
}

export function socketPath(): string {
  const paths = resolvePaths();
  try {
    return socketPathFor(loadConfig(paths).socketPath);
  } catch (error) {
    // A broken config must not stop `status` or `stop` from reaching a daemon on the default path.
    if (error instanceof ConfigError) return socketPathFor();
    throw error;
  }
}

export async function withDaemon<T>(work: (connection: Awaited<ReturnType<typeof openControlConnection>>) => Promise<T>): Promise<T> {
  const connection = await openControlConnection(socketPath(), CONNECT_TIMEOUT_MS);
  try {
    return await work(connection);
  } finally {
    connection.close();
  }
}

