/**
 * When the journal syncs: a notification's lines are written every tick (a dead daemon's lines
 * are still in the kernel's hands) but synced only before a request's answer, or once they have
 * waited `syncUnsettledAfterMs` with a record in their file unsettled. Lines whose records settle
 * in time are never synced: their file goes before the kernel writes it back.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { type Journal, openJournal, ROTATE_MS, SYNC_INTERVAL_MS } from '../daemon/delivery/journal.js';
import { readJournal } from '../daemon/delivery/journal-read.js';

describe('journal syncs', () => {
  let dir = '';
  let journal: Journal | undefined;
  /** Metric records accepted and settled so far, as the pipelines count them. */
  const counted = { accepted: 0, settled: 0 };

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    dir = mkdtempSync(join(tmpdir(), 'codexd-journal-sync-'));
    counted.accepted = counted.settled = 0;
  });
  afterEach(() => {
    journal?.close();
    journal = undefined;
    vi.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
  });

  function open(syncUnsettledAfterMs: number): Journal {
    journal = openJournal({
      dir,
      counts: { accepted: (signal) => (signal === 'metrics' ? counted.accepted : 0), settled: (signal) => (signal === 'metrics' ? counted.settled : 0) },
      syncUnsettledAfterMs,
      maxBytes: 1 << 30,
      onPressure: () => undefined,
      onError: (message) => expect.fail(message),
    });
    journal.start();
    return journal;
  }

  function accept(journal: Journal, name: string): void {
    counted.accepted++;
    journal.append({ m: [{ name, kind: 'counter', value: 1 }] });
  }

  it('writes a notification within a tick and never syncs it when its record settles in time', () => {
    const journal = open(10_000);
    accept(journal, 'codex.a');
    vi.advanceTimersByTime(SYNC_INTERVAL_MS);
    // On file (readable by the next daemon), not synced.
    expect(readJournal(dir).lines).toEqual([{ m: [{ name: 'codex.a', kind: 'counter', value: 1 }] }]);
    expect(journal.counts()).toMatchObject({ writes: 1, syncs: 0 });
    counted.settled = 1;
    vi.advanceTimersByTime(30_000);
    expect(journal.counts().syncs).toBe(0);
    // Rotated and deleted, unsynced.
    expect(readJournal(dir).files).toEqual([]);
  });

  it('syncs a file whose record is still unsettled once its oldest unsynced line is overdue, once', () => {
    const journal = open(1000);
    accept(journal, 'codex.a');
    vi.advanceTimersByTime(800);
    expect(journal.counts().syncs).toBe(0);
    vi.advanceTimersByTime(400);
    expect(journal.counts().syncs).toBe(1);
    // Nothing new: nothing more to sync, though the record is still unsettled.
    vi.advanceTimersByTime(ROTATE_MS * 3);
    expect(journal.counts().syncs).toBe(1);
    expect(readJournal(dir).lines).toHaveLength(1);
  });

  it('a request syncs lines a tick already wrote, in a file it already closed', () => {
    const journal = open(60_000);
    accept(journal, 'codex.a');
    // Written and rotated by the ticks before the request's sync.
    vi.advanceTimersByTime(ROTATE_MS + SYNC_INTERVAL_MS);
    expect(journal.counts().syncs).toBe(0);
    accept(journal, 'codex.b');
    expect(journal.sync()).toBe(true);
    // The closed file and the new one.
    expect(journal.counts()).toMatchObject({ syncs: 2 });
    expect(journal.sync()).toBe(true);
    expect(journal.counts().syncs).toBe(2);
  });
});
