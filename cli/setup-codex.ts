/**
 * `codexd setup codex [--dry-run] [--undo]`: points the user's Codex at codexd, in the
 * `config.toml` they share. Codex's `[otel] exporter`, `trace_exporter` and (when it exports to
 * an OTLP endpoint) `metrics_exporter` go to codexd's OTLP receiver (with the token header); what
 * they said before moves to `[codexd.downstream]`, so everything still ends up where it used to,
 * through codexd; the receiver is turned on. Every other line and comment stays as it was.
 * Prints the change; the file before it is kept beside it, and `--undo` puts it back.
 *
 * A `metrics_exporter` that is not an OTLP endpoint is left as it is: `"none"` stays off, and
 * Codex's built-in destinations (`"statsig"`, or the key left out) carry a key only Codex has.
 *
 * Codex is pointed at the OTLP/gRPC receiver: with its gRPC exporters `codex exec` exits sooner
 * than with its HTTP ones (row 10 of docs/benchmarks.md). A file that configures only codexd's
 * HTTP receiver keeps it, and Codex is pointed there.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parse } from 'smol-toml';

import { parseCommand, UsageError } from './support.js';
import { ConfigError, loadConfig } from '../daemon/config.js';
import { loadOrCreateToken, TOKEN_FILE } from '../daemon/otlp/token.js';
import { resolvePaths } from '../daemon/paths.js';

/**
 * Where the gRPC receiver listens when the file does not say: OTLP/gRPC's usual port on loopback,
 * or, when the exporters codexd takes over already use that port (a local collector, which keeps
 * it), the second.
 */
export const DEFAULT_RECEIVERS = ['127.0.0.1:4317', '127.0.0.1:14317'] as const;
/** The file before `setup codex` changed it, beside it. */
export const BACKUP_SUFFIX = '.before-codexd-setup';

const EXPORTER_KEYS = ['exporter', 'trace_exporter', 'metrics_exporter'] as const;
const HEADER = /^\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$/;

/** The lines of the table `name` (its header's index, and the index after its last line), or null. */
function tableLines(lines: readonly string[], name: string): { header: number; end: number } | null {
  const header = lines.findIndex((line) => HEADER.exec(line)?.[1] === name);
  if (header < 0) return null;
  let end = header + 1;
  while (end < lines.length && !/^\s*\[/.test(lines[end] as string)) end++;
  return { header, end };
}

/** A one-line TOML value without the comment after it (a `#` outside a string starts one). */
function withoutComment(value: string): string {
  let quote: string | null = null;
  for (let at = 0; at < value.length; at++) {
    const char = value[at] as string;
    if (quote !== null) {
      if (char === '\\' && quote === '"') at++;
      else if (char === quote) quote = null;
    } else if (char === '"' || char === "'") quote = char;
    else if (char === '#') return value.slice(0, at).trimEnd();
  }
  return value.trimEnd();
}

/** The line of `key = ...` in lines [from, to), and its value as written (its comment left out), or null. */
function keyLine(lines: readonly string[], from: number, to: number, key: string): { at: number; value: string } | null {
  for (let at = from; at < to; at++) {
    const match = new RegExp(`^\\s*${key}\\s*=\\s*(.*?)\\s*$`).exec(lines[at] as string);
    if (match !== null) return { at, value: withoutComment(match[1] as string) };
  }
  return null;
}

/** A line diff (longest common subsequence): `-` lines removed, `+` lines added, two lines of context. */
export function lineDiff(before: readonly string[], after: readonly string[]): string[] {
  const rows = before.length + 1;
  const cols = after.length + 1;
  const common = new Array<number>(rows * cols).fill(0);
  for (let i = before.length - 1; i >= 0; i--) {
    for (let j = after.length - 1; j >= 0; j--) {
      common[i * cols + j] = before[i] === after[j] ? (common[(i + 1) * cols + j + 1] as number) + 1 : Math.max(common[(i + 1) * cols + j] as number, common[i * cols + j + 1] as number);
    }
  }
  const out: { mark: ' ' | '-' | '+'; line: string }[] = [];
  let i = 0;
  let j = 0;
  while (i < before.length || j < after.length) {
    if (i < before.length && j < after.length && before[i] === after[j]) out.push({ mark: ' ', line: before[i++] as string }), j++;
    else if (j < after.length && (i === before.length || (common[i * cols + j + 1] as number) >= (common[(i + 1) * cols + j] as number))) out.push({ mark: '+', line: after[j++] as string });
    else out.push({ mark: '-', line: before[i++] as string });
  }
  // Only the changes, with a little context around each.
  const keep = out.map((entry, at) => out.slice(Math.max(0, at - 2), at + 3).some((near) => near.mark !== ' '));
  return out.filter((_, at) => keep[at]).map((entry) => `${entry.mark} ${entry.line}`);
}

/** The file with Codex pointed at codexd; throws UsageError when it cannot be changed safely. */
export function setUpText(text: string, token: string): { text: string; receiver: string; metrics: boolean } {
  const parsed = parse(text) as Record<string, unknown>;
  const codexd = (parsed.codexd ?? {}) as Record<string, unknown>;
  if (codexd.downstream !== undefined) throw new UsageError('codexd setup codex: already done: [codexd.downstream] is in the file (codexd setup codex --undo puts the file back as it was)');
  const lines = text.split('\n');
  const otel = tableLines(lines, 'otel');
  // Exporters written as tables of their own ([otel.exporter.otlp-http]) are not rewritten by line.
  if (lines.some((line) => /^\s*\[\s*otel\.(exporter|trace_exporter|metrics_exporter)\b/.test(line))) {
    throw new UsageError('codexd setup codex: [otel] has an exporter written as a table of its own ([otel.exporter...]); write it on one line, exporter = { ... }, and run this again');
  }
  const old: Record<(typeof EXPORTER_KEYS)[number], string | null> = { exporter: null, trace_exporter: null, metrics_exporter: null };
  if (otel !== null) for (const key of EXPORTER_KEYS) old[key] = keyLine(lines, otel.header + 1, otel.end, key)?.value ?? null;
  const receiverTable = (codexd.otlp_receiver ?? {}) as Record<string, unknown>;
  // The file's own receiver, gRPC first; else a gRPC one on a port the old exporters leave free.
  const transport: 'grpc' | 'http' = typeof receiverTable.grpc !== 'string' && typeof receiverTable.http === 'string' ? 'http' : 'grpc';
  const named = receiverTable[transport];
  const taken = Object.values(old).join(' ');
  const receiver = typeof named === 'string' ? named : (DEFAULT_RECEIVERS.find((address) => !taken.includes(`:${address.split(':')[1]}`)) ?? DEFAULT_RECEIVERS[1]);
  const header = `headers = { authorization = "Bearer ${token}" }`;
  const endpoint = (path: string): string => (transport === 'grpc' ? `{ otlp-grpc = { endpoint = "http://${receiver}", ${header} } }` : `{ otlp-http = { endpoint = "http://${receiver}${path}", protocol = "binary", ${header} } }`);
  const codexLines = { exporter: `exporter = ${endpoint('/v1/logs')}`, trace_exporter: `trace_exporter = ${endpoint('/v1/traces')}`, metrics_exporter: `metrics_exporter = ${endpoint('/v1/metrics')}` };
  // Metrics come through codexd only from an OTLP exporter (an inline table); see the note above.
  const metricsToo = old.metrics_exporter?.startsWith('{') === true;

  // [otel]: the exporters codexd takes point at it.
  if (otel === null) {
    if (lines.length > 0 && lines[lines.length - 1] !== '') lines.push('');
    lines.push('[otel]', codexLines.exporter, codexLines.trace_exporter);
  } else {
    for (const key of metricsToo ? (['metrics_exporter', 'trace_exporter', 'exporter'] as const) : (['trace_exporter', 'exporter'] as const)) {
      const found = keyLine(lines, otel.header + 1, otel.end, key);
      if (found !== null) lines[found.at] = codexLines[key];
      else lines.splice(otel.header + 1, 0, codexLines[key]);
    }
  }
  // [codexd.downstream]: where codexd exported before, written out (each default made explicit).
  const before = {
    exporter: old.exporter ?? '"file"',
    trace_exporter: old.trace_exporter ?? old.exporter ?? '"file"',
    metrics_exporter: old.metrics_exporter ?? '"file"',
  };
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  lines.push('', '# Where codexd exports: what [otel] said before `codexd setup codex` pointed Codex at codexd.', '[codexd.downstream]', ...EXPORTER_KEYS.map((key) => `${key} = ${before[key]}`));
  // The receiver, on unless the file already has one.
  if (typeof named !== 'string') {
    const table = tableLines(lines, 'codexd.otlp_receiver');
    if (table !== null) lines.splice(table.header + 1, 0, `${transport} = "${receiver}"`);
    else lines.push('', '# OTLP endpoints for Codex (and any OpenTelemetry SDK): codexd setup codex.', '[codexd.otlp_receiver]', `${transport} = "${receiver}"`);
  }
  lines.push('');
  return { text: lines.join('\n'), receiver: `${transport === 'grpc' ? 'OTLP/gRPC' : 'OTLP/HTTP'} http://${receiver}`, metrics: metricsToo };
}

export async function setup(args: string[]): Promise<number> {
  const { flags, positionals } = parseCommand(args, { flags: ['dry-run', 'undo'], positionals: 1 });
  const { 'dry-run': dryRun, undo } = flags;
  const [what] = positionals;
  if (what !== 'codex') throw new UsageError('usage: codexd setup codex [--dry-run] [--undo]');
  const paths = resolvePaths();
  const file = paths.configFile;
  const backup = `${file}${BACKUP_SUFFIX}`;
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const out = (line: string): void => void process.stdout.write(`${line}\n`);

  if (undo) {
    if (!existsSync(backup)) {
      process.stderr.write(`codexd setup codex --undo: no ${backup}: nothing to put back\n`);
      return 1;
    }
    const original = readFileSync(backup, 'utf8');
    out(`${dryRun ? 'would put back' : 'putting back'} ${file} as it was before codexd setup codex:`);
    for (const line of lineDiff(current.split('\n'), original.split('\n'))) out(line);
    if (!dryRun) renameSync(backup, file);
    return 0;
  }

  let token = 'TOKEN';
  const tokenFile = join(paths.logDir, TOKEN_FILE);
  if (!dryRun) {
    mkdirSync(paths.logDir, { recursive: true, mode: 0o700 });
    token = loadOrCreateToken(tokenFile);
  } else if (existsSync(tokenFile)) token = loadOrCreateToken(tokenFile);
  let next: ReturnType<typeof setUpText>;
  try {
    next = setUpText(current, token);
  } catch (error) {
    if (error instanceof UsageError) throw error;
    process.stderr.write(`codexd setup codex: ${file} is not valid TOML: ${(error as Error).message}\n`);
    return 2;
  }
  // What codexd will read must load, or nothing is written.
  const probe = join(tmpdir(), `codexd-setup-${process.pid}.toml`);
  writeFileSync(probe, next.text, { mode: 0o600 });
  try {
    loadConfig({ ...paths, configFile: probe });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`codexd setup codex: the changed file would not load: ${error.message}\n`);
    return 2;
  } finally {
    rmSync(probe, { force: true });
  }
  out(`${dryRun ? 'would change' : 'changing'} ${file}:`);
  for (const line of lineDiff(current.split('\n'), next.text.split('\n'))) out(line.replace(/Bearer [0-9a-f]{64}/g, 'Bearer [REDACTED]'));
  if (dryRun) return 0;
  if (!existsSync(backup)) writeFileSync(backup, current, { mode: existsSync(file) ? statSync(file).mode & 0o777 : 0o600 });
  const temp = `${file}.codexd-setup.tmp`;
  mkdirSync(paths.codexHome, { recursive: true });
  writeFileSync(temp, next.text, { mode: existsSync(file) ? statSync(file).mode & 0o777 : 0o600 });
  renameSync(temp, file);
  out(`done: Codex exports logs, traces${next.metrics ? ' and metrics' : ''} to codexd's ${next.receiver} (the token is in ${tokenFile});`);
  if (!next.metrics) out('Codex\'s metrics_exporter is not an OTLP endpoint, so it is left as it was.');
  out('codexd exports them, and its own, where [otel] said before ([codexd.downstream]). Restart codexd (codexd restart) so that it listens.');
  out(`codexd setup codex --undo puts the file back (kept as ${backup}).`);
  return 0;
}
