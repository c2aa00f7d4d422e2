/**
 * `codexd feedback`: submit a report from the command line, and look into the spool.
 *
 *   codexd feedback submit --category bug --note "..." [--logs FILE | --include-logs] [--session ID]
 *                          [--attach FILE ...] [--tag key=value ...]
 *   codexd feedback list [--json]
 *   codexd feedback show ID [--json]
 *   codexd feedback retry ID
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

import { ErrorCodes, type FeedbackAttachment, type FeedbackEntry, FeedbackList, FeedbackRetry, FeedbackShow, FeedbackSubmit } from '../protocol/index.js';
import { parseCommand, REQUEST_TIMEOUT_MS, UsageError, withDaemon } from './support.js';
import { RpcError } from './control-client.js';

function readInput(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

function line(entry: FeedbackEntry): string[] {
  const when = entry.state === 'uploaded' ? (entry.uploadedAt ?? '') : entry.state === 'pending' ? (entry.nextAttemptAt === null ? 'no endpoint configured' : `next attempt ${entry.nextAttemptAt}`) : '';
  return [entry.feedbackId, entry.state, entry.category, entry.createdAt, String(entry.attempts), when, entry.lastError ?? ''];
}

function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, column) => (widths[column] = Math.max(widths[column] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ').trimEnd()).join('\n');
}

async function submit(args: string[]): Promise<number> {
  const parsed = parseCommand(args, { flags: ['include-logs'], options: ['category', 'note', 'logs', 'session'], lists: ['attach', 'tag'] });
  const { category, note, logs: logsFile, session: sessionId } = parsed.options;
  if (category === undefined) throw new UsageError('feedback submit needs --category (bad_result, good_result, bug, safety_check or other)');
  const includeLogs = parsed.flags['include-logs'] || logsFile !== undefined;
  const attachments: FeedbackAttachment[] = parsed.lists.attach.map((path) => ({ name: basename(path), data: readInput(path, '--attach').toString('base64') }));
  const tags: Record<string, string> = {};
  for (const pair of parsed.lists.tag) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--tag ${pair}: expected key=value`);
    tags[pair.slice(0, at)] = pair.slice(at + 1);
  }
  const params = {
    category,
    includeLogs,
    ...(note === undefined ? {} : { note }),
    ...(sessionId === undefined ? {} : { sessionId }),
    ...(logsFile === undefined ? {} : { logs: readInput(logsFile, '--logs').toString('utf8') }),
    ...(attachments.length === 0 ? {} : { attachments }),
    ...(Object.keys(tags).length === 0 ? {} : { tags }),
  };
  const result = await withDaemon((connection) => connection.request<FeedbackSubmit.Result>(FeedbackSubmit.method, params, REQUEST_TIMEOUT_MS));
  process.stdout.write(`feedback ${result.feedbackId} queued\n`);
  return 0;
}

async function list(args: string[]): Promise<number> {
  const { json } = parseCommand(args, { flags: ['json'] }).flags;
  const result = await withDaemon((connection) => connection.request<FeedbackList.Result>(FeedbackList.method, {}, REQUEST_TIMEOUT_MS));
  if (json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  else if (result.reports.length === 0) process.stdout.write('feedback: no reports\n');
  else process.stdout.write(`${table([['id', 'state', 'category', 'created', 'attempts', 'when', 'last error'], ...result.reports.map(line)])}\n`);
  return 0;
}

async function show(args: string[]): Promise<number> {
  const { flags, positionals } = parseCommand(args, { flags: ['json'], positionals: 1 });
  const { json } = flags;
  const [id] = positionals;
  if (id === undefined) throw new UsageError('feedback show needs a report id');
  const report = await withDaemon((connection) => connection.request<FeedbackShow.Result>(FeedbackShow.method, { feedbackId: id }, REQUEST_TIMEOUT_MS));
  if (json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return 0;
  }
  const rows: [string, string][] = [
    ['id', report.feedbackId],
    ['state', report.state],
    ['category', report.category],
    ['created', report.createdAt],
    ['note', report.note ?? '-'],
    ['session', report.sessionId ?? '-'],
    ['logs', report.includeLogs ? `${report.logsBytes} bytes` : 'not included'],
    ['attachments', report.attachmentNames.length === 0 ? '-' : report.attachmentNames.join(', ')],
    ['tags', Object.keys(report.tags).length === 0 ? '-' : Object.entries(report.tags).map(([key, value]) => `${key}=${value}`).join(' ')],
    ['attempts', String(report.attempts)],
    ['next attempt', report.nextAttemptAt ?? '-'],
    ['last error', report.lastError ?? '-'],
    ['uploaded', report.uploadedAt ?? '-'],
  ];
  process.stdout.write(`${table(rows)}\n`);
  return 0;
}

async function retry(args: string[]): Promise<number> {
  const [id] = parseCommand(args, { positionals: 1 }).positionals;
  if (id === undefined) throw new UsageError('feedback retry needs a report id');
  const result = await withDaemon((connection) => connection.request<FeedbackRetry.Result>(FeedbackRetry.method, { feedbackId: id }, REQUEST_TIMEOUT_MS));
  process.stdout.write(result.state === 'uploaded' ? `feedback ${id} is already uploaded\n` : `feedback ${id} is pending again\n`);
  return 0;
}

/** Runs a `codexd feedback` subcommand; a report the daemon refuses as malformed is exit code 2. */
export async function feedback(args: string[]): Promise<number> {
  const [action, ...rest] = args;
  try {
    switch (action) {
      case 'submit':
        return await submit(rest);
      case 'list':
        return await list(rest);
      case 'show':
        return await show(rest);
      case 'retry':
        return await retry(rest);
      default:
        throw new UsageError('usage: codexd feedback submit|list|show|retry');
    }
  } catch (error) {
    if (error instanceof RpcError && (error.code === ErrorCodes.InvalidParams || error.code === ErrorCodes.UnknownFeedback)) {
      process.stderr.write(`codexd: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
}
