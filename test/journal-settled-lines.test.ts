/**
 * Lines the journal never writes: those whose records all settle (exported, failed, spilled)
 * before the write. The lines after them are placed by base lines, so a replay still skips
 * exactly what settled; and a line is held for its records to settle only while the lanes keep
 * up (behind a backlog its text is made at once).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { HOLD_BACKLOG } from '../daemon/delivery/journal-lines.js';
import { readJournal } from '../daemon/delivery/journal-read.js';
import type { Signal } from '../protocol/index.js';
import { type AcceptingJournal, journalText, openAcceptingJournal } from './support/journal.js';

/** The event line of event `n`, taken by both lanes. */
const event = (n: number) => ({ e: [{ name: 'codex.tool_result', timeMs: n, durationMs: 1, logAttributes: { n } }, { log: true, span: true }] });
const CONTEXT = { model: 'gpt-5.1-codex' };

/** The `n` of every event entry in the text, in order. */
function eventsIn(text: string): number[] {
  const found: number[] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const parsed = JSON.parse(line) as { E?: [{ timeMs: number }, unknown][] };
    for (const [entry] of parsed.E ?? []) found.push(entry.timeMs);
  }
  return found;
}

describe('journal lines whose records settle first', () => {
  let dir = '';
  let opened: AcceptingJournal | undefined;
  const settled: Record<Signal, number> = { metrics: 0, logs: 0, traces: 0 };

  beforeEach(() => {
    // Date frozen: a line is held for its records to settle until the clock moves.
    vi.useFakeTimers({ toFake: ['Date'] });
    dir = mkdtempSync(join(tmpdir(), 'codexd-journal-settled-'));
    settled.metrics = settled.logs = settled.traces = 0;
    opened = openAcceptingJournal({ dir, settled: (signal) => settled[signal], maxBytes: 1 << 30, onPressure: () => undefined, onError: (message) => expect.fail(message) });
    opened.journal.start();
  });

  afterEach(() => {
    opened?.journal.close();
    vi.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Both lanes have exported the first `count` events. */
  function settle(count: number): void {
    settled.logs = settled.traces = count;
    opened?.journal.noteSettled();
  }

  it('never writes them, and places the lines after them so that a replay takes exactly what had not settled', () => {
    const { journal } = opened as AcceptingJournal;
    journal.append(event(1), undefined, CONTEXT);
    journal.append(event(2), undefined, CONTEXT);
    journal.sync();
    // Written, then exported: the file holds them, the replay skips them.
    settle(2);
    journal.append(event(3), undefined, CONTEXT);
    journal.append(event(4), undefined, CONTEXT);
    journal.append({ m: [{ name: 'codex.tool.call', kind: 'counter', value: 1 }] });
    // Events 3 and 4 are exported before the journal writes; the metric record is not.
    settle(4);
    journal.append(event(5), undefined, CONTEXT);
    journal.sync();
    const text = journalText(dir);
    expect(eventsIn(text)).toEqual([1, 2, 5]);
    // A base line before the metric line: where each signal's count stands after the lines left out.
    expect(text.split('\n').filter((line) => line.startsWith('{"b":'))).toEqual(['{"b":{"metrics":0,"logs":0,"traces":0}}', '{"b":{"metrics":0,"logs":4,"traces":4}}']);
    const replayed = readJournal(dir).lines;
    expect(replayed).toEqual([{ m: [{ name: 'codex.tool.call', kind: 'counter', value: 1 }] }, { e: [event(5).e[0], { log: true, span: true }], c: expect.any(Number) }]);
  });

  it('writes a line only once its records have all settled: one lane exporting is not enough', () => {
    const { journal } = opened as AcceptingJournal;
    journal.append(event(1), undefined, CONTEXT);
    settled.logs = 1;
    journal.noteSettled();
    journal.sync();
    expect(eventsIn(journalText(dir))).toEqual([1]);
    expect(readJournal(dir).lines.map((line) => ('e' in line ? line.e[1] : null))).toEqual([{ log: false, span: true }]);
  });

  it('records accepted and not journaled (an exporter turned off) start a new line, placed where they leave the counts', () => {
    const { journal, accepted } = opened as AcceptingJournal;
    journal.append(event(1), undefined, CONTEXT);
    // Counted as accepted and failed at once, never appended.
    accepted.logs++;
    accepted.traces++;
    settle(0);
    journal.append(event(2), undefined, CONTEXT);
    journal.sync();
    const text = journalText(dir);
    expect(text.split('\n').filter((line) => line.startsWith('{"b":'))).toEqual(['{"b":{"metrics":0,"logs":0,"traces":0}}', '{"b":{"metrics":0,"logs":2,"traces":2}}']);
    // Event 1 and the record between settled: only event 2 is replayed.
    settle(2);
    expect(readJournal(dir).lines.map((line) => ('e' in line ? (line.e[0] as { timeMs: number }).timeMs : null))).toEqual([2]);
  });

  it('reports and leaves out a line whose text cannot be made, and keeps the lines after it in place', () => {
    const errors: string[] = [];
    const logsSettled = { count: 0 };
    const folder = join(dir, 'unwritable');
    const { journal } = openAcceptingJournal({ dir: folder, settled: (signal) => (signal === 'logs' ? logsSettled.count : 0), maxBytes: 1 << 30, onPressure: () => undefined, onError: (message) => errors.push(message) });
    journal.start();
    journal.append({ l: { body: 'a' } });
    // JSON has no bigint: this log line (of another host, so a line of its own) cannot be written.
    expect(() => journal.append({ l: { body: 1n } }, { id: 7, attributes: { 'service.name': 'other' } })).not.toThrow();
    journal.append({ l: { body: 'b' } });
    expect(journal.sync()).toBe(true);
    expect(errors).toEqual([expect.stringMatching(/^journal: a l line left out: /)]);
    // The first two exported: the replay takes the third, counted from where it stands.
    logsSettled.count = 2;
    journal.noteSettled();
    expect(readJournal(folder).lines).toEqual([{ l: { body: 'b' } }]);
    journal.close();
  });

  it('holds a line for its records to settle while the lanes keep up, and makes its text at once behind a backlog', () => {
    const { journal, accepted } = opened as AcceptingJournal;
    // Keeping up: held past the next line, then exported: never written.
    journal.append(event(1), undefined, CONTEXT);
    journal.append({ m: [{ name: 'codex.a', kind: 'counter', value: 1 }] });
    settle(1);
    journal.sync();
    expect(eventsIn(journalText(dir))).toEqual([]);
    // Behind a backlog of more than HOLD_BACKLOG unsettled records: its text is made when the
    // next line comes, and it is written though its records settle before the write.
    accepted.logs += HOLD_BACKLOG;
    accepted.traces += HOLD_BACKLOG;
    journal.append(event(2), undefined, CONTEXT);
    journal.append({ m: [{ name: 'codex.b', kind: 'counter', value: 1 }] });
    settle(2 + HOLD_BACKLOG);
    journal.sync();
    expect(eventsIn(journalText(dir))).toEqual([2]);
  });
});
