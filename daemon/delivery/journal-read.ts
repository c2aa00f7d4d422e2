/**
 * An earlier daemon's journal, read back (journal.ts writes it): the lines a journal file holds,
 * and what of them a replay takes in, which is what had not settled.
 */
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { measurementsOf, type Signal, SIGNALS } from '../../protocol/index.js';
import { isAlive } from '../process-alive.js';
import { decodeJournalFrames } from './journal-frames.js';

/**
 * A journaled batch of metric records (`m`), a session event's lane entry with the lanes that
 * took it (`e`), a span (`s`) or log record (`l`) taken whole, or the scopes of metrics taken
 * over OTLP to pass on (`p`, counted by data point); `r` is the id of its host's resource when
 * that is not the daemon's own.
 */
export type JournalLine = ({ readonly m: readonly unknown[] } | { readonly e: readonly unknown[] } | { readonly s: unknown } | { readonly l: unknown } | { readonly p: readonly JournaledScope[] }) & { readonly r?: number; readonly c?: number };

/** A scope of metrics as the journal holds it: only what counting and trimming read is typed. */
export interface JournaledScope {
  readonly metrics: readonly { readonly dataPoints: readonly unknown[] }[];
}

/** Data points in a `p` line's scopes. */
export const pointsIn = (scopes: readonly JournaledScope[]): number => scopes.reduce((sum, scope) => sum + scope.metrics.reduce((points, metric) => points + metric.dataPoints.length, 0), 0);
/**
 * Lines of one kind appended one after another under the same resource and session context,
 * written as one line, their values in order: `E` for event lines (`e`), `S` for spans (`s`), `L`
 * for log records (`l`). One `JSON.stringify` and one copy for a batch's records instead of one
 * each. A replay reads it as the lines it stands for.
 */
export type GroupLine = ({ readonly E: readonly (readonly unknown[])[] } | { readonly S: readonly unknown[] } | { readonly L: readonly unknown[] }) & { readonly r?: number; readonly c?: number };
/** Most lines written as one. */
export const MAX_GROUPED_LINES = 256;
/** The kinds of line grouped: `e`, `s` and `l`. */
export type GroupKind = 'e' | 's' | 'l';

/**
 * A resource's attributes under its id (`d`), written in a file before the first line that
 * names it there: every file declares what it uses, so it replays alone.
 */
export type ResourceLine = { readonly d: readonly [number, Readonly<Record<string, unknown>>] };
/**
 * A session's context under its id (`cd`), written in a file before the first event line that
 * names it there (`c`): that event's log attributes are the context's, then the line's own.
 */
export type ContextLine = { readonly cd: readonly [number, Readonly<Record<string, unknown>>] };
/** The first line of a file: what each signal had accepted before it. */
export type BaseLine = { readonly b: Readonly<Record<Signal, number>> };

export const SETTLED = 'settled.json';
/** `settled.json` is its JSON padded with spaces to this many bytes, so that a shorter note never leaves a longer one's tail. */
export const SETTLED_WIDTH = 128;

function readSettled(dir: string): Record<Signal, number> {
  try {
    const value = JSON.parse(readFileSync(join(dir, SETTLED), 'utf8')) as Partial<Record<Signal, unknown>>;
    return Object.fromEntries(SIGNALS.map((signal) => [signal, typeof value[signal] === 'number' ? value[signal] : 0])) as Record<Signal, number>;
  } catch {
    return { metrics: 0, logs: 0, traces: 0 };
  }
}

/**
 * What an earlier daemon journaled and had not settled, oldest first: metric lines keep only
 * their records past the settled count, event lines only the lanes past it. A torn frame (a
 * crash mid-write) ends its file, a torn line is skipped; each is counted.
 */
export function readJournal(dir: string): { files: string[]; lines: JournalLine[]; torn: number; resources: Map<number, Readonly<Record<string, unknown>>>; contexts: Map<number, Readonly<Record<string, unknown>>> } {
  const { files, lines, torn } = readJournalFiles(dir);
  const settled = readSettled(dir);
  const seen: Record<Signal, number> = { metrics: 0, logs: 0, traces: 0 };
  const pending: JournalLine[] = [];
  const resources = new Map<number, Readonly<Record<string, unknown>>>();
  const contexts = new Map<number, Readonly<Record<string, unknown>>>();
  for (const line of lines) {
    const resource = 'r' in line && typeof line.r === 'number' ? { r: line.r } : {};
    if ('b' in line) {
      for (const signal of SIGNALS) seen[signal] = Math.max(seen[signal], Number((line as BaseLine).b[signal]) || 0);
    } else if ('d' in line) {
      noteDeclared((line as ResourceLine).d, resources);
    } else if ('cd' in line) {
      noteDeclared((line as ContextLine).cd, contexts);
    } else if ('m' in line && Array.isArray(line.m)) {
      const kept = line.m.filter((record) => {
        seen.metrics += measurementsOf(record);
        return seen.metrics > settled.metrics;
      });
      if (kept.length > 0) pending.push({ m: kept, ...resource });
    } else if (('e' in line && Array.isArray(line.e)) || ('E' in line && Array.isArray(line.E))) {
      const context = typeof line.c === 'number' ? { c: line.c } : {};
      for (const one of 'E' in line ? line.E : [line.e]) {
        if (!Array.isArray(one)) continue;
        const [entry, taken] = one as [unknown, { log?: boolean; span?: boolean }];
        const log = taken?.log === true && ++seen.logs > settled.logs;
        const span = taken?.span === true && ++seen.traces > settled.traces;
        if (log || span) pending.push({ e: [entry, { log, span }], ...resource, ...context });
      }
    } else if ('s' in line || ('S' in line && Array.isArray(line.S))) {
      // A span line, or a group of them.
      for (const span of 'S' in line ? line.S : [line.s]) if (++seen.traces > settled.traces) pending.push({ s: span, ...resource });
    } else if ('l' in line || ('L' in line && Array.isArray(line.L))) {
      for (const log of 'L' in line ? line.L : [line.l]) if (++seen.logs > settled.logs) pending.push({ l: log, ...resource });
    } else if ('p' in line && Array.isArray(line.p)) {
      // Points past the settled count, each metric and scope keeping only those.
      const kept = (line.p as readonly JournaledScope[])
        .map((scope) => ({ ...scope, metrics: scope.metrics.map((metric) => ({ ...metric, dataPoints: metric.dataPoints.filter(() => ++seen.metrics > settled.metrics) })).filter((metric) => metric.dataPoints.length > 0) }))
        .filter((scope) => scope.metrics.length > 0);
      if (kept.length > 0) pending.push({ p: kept, ...resource });
    }
  }
  return { files, lines: pending, torn, resources, contexts };
}

/** Keeps what a `d` or `cd` line declares, when it is an id and an object. */
function noteDeclared([id, attributes]: readonly [unknown, unknown], into: Map<number, Readonly<Record<string, unknown>>>): void {
  if (typeof id === 'number' && typeof attributes === 'object' && attributes !== null) into.set(id, attributes as Readonly<Record<string, unknown>>);
}

function readJournalFiles(dir: string): { files: string[]; lines: (JournalLine | GroupLine | BaseLine | ResourceLine | ContextLine)[]; torn: number } {
  let names: string[];
  try {
    names = readdirSync(dir)
      // `.jnz`: frames (journal-frames.ts); `.jnl`: JSON lines, as earlier versions wrote them.
      .filter((name) => name.endsWith('.jnz') || name.endsWith('.jnl'))
      .sort();
  } catch {
    return { files: [], lines: [], torn: 0 };
  }
  const lines: (JournalLine | GroupLine | BaseLine | ResourceLine | ContextLine)[] = [];
  let torn = 0;
  for (const name of names) {
    let text: string;
    try {
      if (name.endsWith('.jnl')) text = readFileSync(join(dir, name), 'utf8');
      else {
        const decoded = decodeJournalFrames(readFileSync(join(dir, name)));
        text = decoded.text;
        if (decoded.torn) torn++;
      }
    } catch {
      continue;
    }
    for (const raw of text.split('\n')) {
      if (raw === '') continue;
      try {
        lines.push(JSON.parse(raw) as JournalLine | GroupLine | BaseLine | ResourceLine | ContextLine);
      } catch {
        torn++;
      }
    }
  }
  return { files: names.map((name) => join(dir, name)), lines, torn };
}

/**
 * The journals of daemons that are gone: each daemon journals in `<root>/<pid>/`, and a
 * successor that starts while a daemon still drains must not take its journal from under it.
 * A folder named for this process's own pid is an earlier daemon's too (the pid was reused):
 * the caller moves it aside as `<pid>.<time>` before opening its own.
 */
export function orphanedJournals(root: string): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  // `<pid>.<time>`: a folder this process's own pid left behind, moved aside (see run.ts).
  return names.filter((name) => /^\d+\.\d+$/.test(name) || (/^\d+$/.test(name) && Number(name) !== process.pid && !isAlive(Number(name)))).map((name) => join(root, name));
}

/** Removes an earlier daemon's journal folder once its lines are taken in again. */
export function removeJournal(dir: string): void {
  try {
    if (statSync(dir).isDirectory()) rmSync(dir, { recursive: true, force: true });
  } catch {
    // Already gone.
  }
}
