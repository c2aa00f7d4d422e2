import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import type { StoredReport } from '../daemon/feedback/report.js';
import { MAX_UPLOADED_KEPT, newReportId, openFeedbackSpool, SpoolFullError } from '../daemon/feedback/spool.js';
import type { FeedbackEntry } from '../protocol/index.js';

function report(logs: string | null = null): { report: StoredReport; entry: FeedbackEntry } {
  const id = newReportId();
  const createdAt = new Date().toISOString();
  return {
    report: { id, createdAt, category: 'bug', note: null, sessionId: null, includeLogs: logs !== null, logs, attachments: [], tags: {}, client: { name: 't', version: '1' }, session: {} },
    entry: { feedbackId: id, category: 'bug', createdAt, state: 'pending', sessionId: null, includeLogs: logs !== null, logsBytes: logs?.length ?? 0, attachments: 0, note: null, attempts: 0, nextAttemptAt: createdAt, lastError: null, uploadedAt: null },
  };
}

describe('feedback spool', () => {
  const dirs: string[] = [];
  const spoolDir = (): string => {
    const dir = mkdtempSync(join(tmpdir(), 'cdx-spool-'));
    dirs.push(dir);
    return join(dir, 'feedback');
  };
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps reports across a reopen, drops leftovers of an interrupted write, and refuses what does not fit', async () => {
    const dir = spoolDir();
    const spool = openFeedbackSpool(dir, 10_000, () => undefined);
    const first = report('a'.repeat(1000));
    await spool.add(first.report, first.entry);
    await expect(spool.add(report('b'.repeat(9000)).report, report().entry)).rejects.toBeInstanceOf(SpoolFullError);
    // A crash mid-write leaves a temporary file behind; it is not a report.
    writeFileSync(join(dir, `${newReportId()}.report.json.123.0.tmp`), '{"half":');
    const reopened = openFeedbackSpool(dir, 10_000, () => undefined);
    expect(reopened.entries().map((entry) => entry.feedbackId)).toEqual([first.report.id]);
    expect(reopened.load(first.report.id)?.logs).toBe('a'.repeat(1000));
    expect(readdirSync(dir).some((name) => name.endsWith('.tmp'))).toBe(false);
    expect(reopened.bytes()).toBe(spool.bytes());
  });

  it('keeps, as pending, a report whose state a crash cut short', async () => {
    const dir = spoolDir();
    openFeedbackSpool(dir, 10_000, () => undefined);
    const orphan = report('logs\n').report;
    writeFileSync(join(dir, `${orphan.id}.report.json`), JSON.stringify(orphan));
    const spool = openFeedbackSpool(dir, 10_000, () => undefined);
    expect(spool.entries()).toMatchObject([{ feedbackId: orphan.id, state: 'pending', attempts: 0, nextAttemptAt: null, logsBytes: 5 }]);
    expect(spool.bytes()).toBeGreaterThan(0);
  });

  it('removes the payload of an uploaded report and keeps the states of the latest uploads only', async () => {
    const spool = openFeedbackSpool(spoolDir(), 10_000_000, () => undefined);
    const ids: string[] = [];
    for (let index = 0; index < MAX_UPLOADED_KEPT + 5; index++) {
      const { report: stored, entry } = report('x');
      await spool.add(stored, entry);
      await spool.update({ ...entry, state: 'uploaded', uploadedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, index)).toISOString() });
      ids.push(stored.id);
    }
    expect(spool.entries()).toHaveLength(MAX_UPLOADED_KEPT);
    expect(spool.entry(ids[0] as string)).toBeUndefined();
    expect(spool.load(ids.at(-1) as string)).toBeUndefined();
    expect(readdirSync(spool.dir).filter((name) => name.endsWith('.report.json'))).toEqual([]);
  });
});
