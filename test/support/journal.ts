/**
 * Journals in unit tests: one whose accepted counts grow as lines are appended, as the pipelines
 * count a record accepted before they journal it (the journal places each line by those
 * counts), and the text a journal folder holds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { type Journal, type JournalOptions, openJournal } from '../../daemon/delivery/journal.js';
import { decodeJournalFrames } from '../../daemon/delivery/journal-frames.js';
import type { JournalLine } from '../../daemon/delivery/journal-read.js';
import { measurementsOf, type Signal } from '../../protocol/index.js';

/** The lines of every journal file in `dir`, oldest first, as one text. */
export const journalText = (dir: string): string =>
  readdirSync(dir)
    .filter((name) => name.endsWith('.jnz'))
    .sort()
    .map((name) => decodeJournalFrames(readFileSync(join(dir, name))).text)
    .join('');

export interface AcceptingJournal {
  readonly journal: Journal;
  /** Records appended so far, by signal. */
  readonly accepted: Record<Signal, number>;
}

/** Opens a journal in `dir` whose settled counts are read from `settled`. */
export function openAcceptingJournal(options: Omit<JournalOptions, 'counts'> & { readonly settled: (signal: Signal) => number }): AcceptingJournal {
  const accepted: Record<Signal, number> = { metrics: 0, logs: 0, traces: 0 };
  const journal = openJournal({ ...options, counts: { accepted: (signal) => accepted[signal], settled: options.settled } });
  const append: Journal['append'] = (line: JournalLine, resource, context) => {
    if ('e' in line) {
      const taken = line.e[1] as { log?: boolean; span?: boolean };
      if (taken.log === true) accepted.logs++;
      if (taken.span === true) accepted.traces++;
    } else if ('s' in line) accepted.traces++;
    else if ('l' in line) accepted.logs++;
    else if ('m' in line) for (const record of line.m) accepted.metrics += measurementsOf(record);
    journal.append(line, resource, context);
  };
  return { journal: { ...journal, append }, accepted };
}
