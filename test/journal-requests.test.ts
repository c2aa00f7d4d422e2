/**
 * Requests in the journal: records an export queue holds serialised are covered by writing
 * their request, once, instead of a line each; a request sent, refused or spilled before the
 * write is not written; and a replay takes each record once, from its request or its line, in
 * the order each signal accepted them.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import type { HeldRequest, HeldRequests } from '../daemon/delivery/journal-requests.js';
import { decodeJournalFrames, type JournaledRequest } from '../daemon/delivery/journal-frames.js';
import { HOLD_MS } from '../daemon/delivery/journal-lines.js';
import { readJournal, type ReplayedLine } from '../daemon/delivery/journal-read.js';
import type { Signal } from '../protocol/index.js';
import { type AcceptingJournal, eventLine, eventsIn, journalText, openAcceptingJournal } from './support/journal.js';

const event = eventLine;
const CONTEXT = { model: 'gpt-5.1-codex' };
/** Another session's context: its events' lines are grouped apart from the first session's. */
const LATER = { model: 'gpt-5.1-codex-mini' };

/** The request frames of every journal file in `dir`, oldest first, without their bytes. */
function requestsIn(dir: string): Omit<JournaledRequest, 'bytes'>[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.jnz'))
    .sort()
    .flatMap((name) => decodeJournalFrames(readFileSync(join(dir, name))).requests)
    .map(({ signal, format, start, records }) => ({ signal, format, start, records }));
}

/** What a replay takes in, in short: `q:<signal>:<start>` for a request, `e:<n>:<log|span|both>` for an event line. */
function replayedOf(lines: readonly ReplayedLine[]): string[] {
  return lines.map((line) => {
    if ('q' in line) return `q:${line.q.signal}:${line.q.start}`;
    if ('e' in line) {
      const [entry, taken] = line.e as [{ timeMs: number }, { log: boolean; span: boolean }];
      return `e:${entry.timeMs}:${taken.log && taken.span ? 'both' : taken.log ? 'log' : 'span'}`;
    }
    return JSON.stringify(line);
  });
}

/** An export queue's memory for one signal, as the journal sees it. */
function heldQueue(): HeldRequests & { batches: HeldRequest[]; add(records: number): HeldRequest; remove(): void } {
  const batches: HeldRequest[] = [];
  return {
    format: 'json',
    batches,
    get requests() {
      return batches;
    },
    get records() {
      return batches.reduce((sum, batch) => sum + batch.records, 0);
    },
    holds: (request) => batches.includes(request),
    add(records) {
      const batch = { bytes: Buffer.from(`{"request":${batches.length}}`), records };
      batches.push(batch);
      return batch;
    },
    remove() {
      batches.shift();
    },
  };
}

describe('journal requests', () => {
  let dir = '';
  let opened: AcceptingJournal | undefined;
  const settled: Record<Signal, number> = { metrics: 0, logs: 0, traces: 0 };
  let queues: Record<'logs' | 'traces', ReturnType<typeof heldQueue>>;

  beforeEach(() => {
    // Date frozen: a line is held for its records to settle until the clock moves.
    vi.useFakeTimers({ toFake: ['Date'] });
    dir = mkdtempSync(join(tmpdir(), 'codexd-journal-requests-'));
    settled.metrics = settled.logs = settled.traces = 0;
    queues = { logs: heldQueue(), traces: heldQueue() };
    opened = openAcceptingJournal({ dir, settled: (signal) => settled[signal], held: (signal) => queues[signal], maxBytes: 1 << 30, onPressure: () => undefined, onError: (message) => expect.fail(message) });
    opened.journal.start();
  });

  afterEach(() => {
    opened?.journal.close();
    vi.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes the requests a queue holds instead of their records’ lines, each once, and a replay takes every record once, in order', () => {
    const { journal } = opened as AcceptingJournal;
    for (let n = 1; n <= 4; n++) journal.append(event(n), undefined, CONTEXT);
    // Events 1-4 of each lane serialised into a request that waits in its queue.
    queues.logs.add(4);
    queues.traces.add(4);
    for (let n = 5; n <= 6; n++) journal.append(event(n), undefined, LATER);
    journal.sync();
    expect(eventsIn(journalText(dir))).toEqual([5, 6]);
    expect(requestsIn(dir)).toEqual([
      { signal: 'logs', format: 'json', start: 0, records: 4 },
      { signal: 'traces', format: 'json', start: 0, records: 4 },
    ]);
    // Events 5 and 6 go into requests too, but their lines are written: those are not.
    queues.logs.add(2);
    queues.traces.add(2);
    journal.append(event(7), undefined, CONTEXT);
    journal.sync();
    expect(eventsIn(journalText(dir))).toEqual([5, 6, 7]);
    expect(requestsIn(dir)).toHaveLength(2);
    expect(journal.counts().requests).toBe(2);
    // Events 7 and 8 go into requests: 7's line is written, 8's is dropped for its requests,
    // which are written (and the first ones not again).
    queues.logs.add(2);
    queues.traces.add(2);
    journal.append(event(8), undefined, LATER);
    vi.setSystemTime(Date.now() + HOLD_MS + 1);
    journal.sync();
    expect(eventsIn(journalText(dir))).toEqual([5, 6, 7]);
    expect(requestsIn(dir).map((request) => [request.signal, request.start, request.records])).toEqual([
      ['logs', 0, 4],
      ['traces', 0, 4],
      ['logs', 6, 2],
      ['traces', 6, 2],
    ]);
    // Event 7 comes from the requests, not again from its line.
    expect(replayedOf(readJournal(dir).lines)).toEqual(['q:logs:0', 'q:traces:0', 'e:5:both', 'e:6:both', 'q:logs:6', 'q:traces:6']);
    // The log lane's first request is sent: a replay leaves it out.
    queues.logs.remove();
    settled.logs = 4;
    journal.noteSettled();
    expect(replayedOf(readJournal(dir).lines)).toEqual(['q:traces:0', 'e:5:both', 'e:6:both', 'q:logs:6', 'q:traces:6']);
    const [request] = readJournal(dir).lines.filter((line): line is { q: JournaledRequest } => 'q' in line);
    expect(Buffer.from(request?.q.bytes ?? []).toString()).toBe('{"request":0}');
    expect(request?.q.signal).toBe('traces');
  });

  it('leaves out a request sent before the write, and its records’ lines too', () => {
    const { journal } = opened as AcceptingJournal;
    for (let n = 1; n <= 3; n++) journal.append(event(n), undefined, CONTEXT);
    queues.logs.add(3);
    queues.traces.add(3);
    // Lines dropped for the requests as the next line comes...
    vi.setSystemTime(Date.now() + HOLD_MS + 1);
    journal.append(event(4), undefined, LATER);
    // ...then both sent before the journal writes: nothing of them is written.
    queues.logs.remove();
    queues.traces.remove();
    settled.logs = settled.traces = 3;
    journal.sync();
    expect(requestsIn(dir)).toEqual([]);
    expect(eventsIn(journalText(dir))).toEqual([4]);
    expect(replayedOf(readJournal(dir).lines)).toEqual(['e:4:both']);
  });

  it('replays a record once when its line was written before its request', () => {
    const { journal } = opened as AcceptingJournal;
    // Held past HOLD_MS with nothing serialised yet: events 1 and 2 are written as lines.
    journal.append(event(1), undefined, CONTEXT);
    journal.append(event(2), undefined, CONTEXT);
    vi.setSystemTime(Date.now() + HOLD_MS + 1);
    journal.sync();
    expect(eventsIn(journalText(dir))).toEqual([1, 2]);
    // Then 1-3 go into a request of each lane; event 3's line is dropped for it.
    journal.append(event(3), undefined, CONTEXT);
    queues.logs.add(3);
    queues.traces.add(3);
    journal.append(event(4), undefined, LATER);
    vi.setSystemTime(Date.now() + HOLD_MS + 1);
    journal.sync();
    expect(eventsIn(journalText(dir))).toEqual([1, 2, 4]);
    expect(requestsIn(dir).map((request) => [request.signal, request.start, request.records])).toEqual([
      ['logs', 0, 3],
      ['traces', 0, 3],
    ]);
    // Events 1 and 2 come from the requests, not again from their lines.
    expect(replayedOf(readJournal(dir).lines)).toEqual(['q:logs:0', 'q:traces:0', 'e:4:both']);
  });

  it('covers nothing while the queue cannot say where its requests start', () => {
    let known = true;
    opened?.journal.close();
    rmSync(dir, { recursive: true, force: true });
    opened = openAcceptingJournal({ dir, settled: (signal) => settled[signal], held: (signal) => (known ? queues[signal] : null), maxBytes: 1 << 30, onPressure: () => undefined, onError: (message) => expect.fail(message) });
    const { journal } = opened;
    journal.start();
    known = false;
    for (let n = 1; n <= 3; n++) journal.append(event(n), undefined, CONTEXT);
    queues.logs.add(3);
    queues.traces.add(3);
    journal.sync();
    expect(requestsIn(dir)).toEqual([]);
    expect(eventsIn(journalText(dir))).toEqual([1, 2, 3]);
  });
});
