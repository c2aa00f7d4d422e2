/**
 * What every `codexd` command shares: argument parsing, usage errors, and one control
 * connection to the daemon.
 */
import { parseArgs } from 'node:util';

import { ConfigError, loadConfig } from '../daemon/config.js';
import { openControlConnection } from './control-client.js';
import { resolvePaths, socketPathFor } from '../daemon/paths.js';

export const CONNECT_TIMEOUT_MS = 2000;
export const REQUEST_TIMEOUT_MS = 10_000;

/** Bad usage: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

export interface CommandSpec<F extends string, O extends string, L extends string> {
  /** Options without a value: `--json`. */
  readonly flags?: readonly F[];
  /** Options with one value: `--socket PATH` or `--socket=PATH`. */
  readonly options?: readonly O[];
  /** Options that may repeat, each with a value: `--tag a=1 --tag b=2`. */
  readonly lists?: readonly L[];
  /** How many arguments that are not options the command takes; none unless set. */
  readonly positionals?: number;
}

export interface ParsedCommand<F extends string, O extends string, L extends string> {
  readonly flags: Readonly<Record<F, boolean>>;
  readonly options: Readonly<Partial<Record<O, string>>>;
  readonly lists: Readonly<Record<L, readonly string[]>>;
  readonly positionals: readonly string[];
}

/** The quoted name in one of parseArgs' messages: `Unknown option '--yaml'`. */
const quoted = (message: string): string => /'([^' ]+)/.exec(message)?.[1] ?? message;

/**
 * A command's arguments, parsed by node:util parseArgs (strict); anything it does not take is a
 * {@link UsageError} naming it.
 */
export function parseCommand<const F extends string = never, const O extends string = never, const L extends string = never>(args: readonly string[], spec: CommandSpec<F, O, L>): ParsedCommand<F, O, L> {
  const config: Record<string, { type: 'boolean' | 'string'; multiple?: boolean }> = {};
  for (const name of spec.flags ?? []) config[name] = { type: 'boolean' };
  for (const name of spec.options ?? []) config[name] = { type: 'string' };
  for (const name of spec.lists ?? []) config[name] = { type: 'string', multiple: true };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: [...args], options: config, strict: true, allowPositionals: true });
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`unknown option ${quoted(message)}`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`${quoted(message)} needs a value`);
    throw error;
  }
  const extra = parsed.positionals[spec.positionals ?? 0];
  if (extra !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(extra)}`);
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  return {
    flags: Object.fromEntries((spec.flags ?? []).map((name) => [name, values[name] === true])) as Record<F, boolean>,
    options: Object.fromEntries((spec.options ?? []).flatMap((name) => (typeof values[name] === 'string' ? [[name, values[name]]] : []))) as Partial<Record<O, string>>,
    lists: Object.fromEntries((spec.lists ?? []).map((name) => [name, (values[name] as string[] | undefined) ?? []])) as Record<L, string[]>,
    positionals: parsed.positionals,
  };
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

