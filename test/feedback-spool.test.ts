import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import type { StoredReport } from '../daemon/feedback/report.js';
import { createSessionLogs } from '../daemon/feedback/session-logs.js';
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

describe('session logs for feedback', () => {
  it('keeps the latest lines per session within its bound, and gives way by least recent session in total', () => {
    const logs = createSessionLogs(100, 250);
    for (let index = 0; index < 20; index++) logs.append('a', `line ${String(index).padStart(2, '0')} of a`);
    // Lines of 13 bytes with their newline: 100 bytes hold the latest seven; the oldest went first.
    expect(logs.text('a')).toBe(Array.from({ length: 7 }, (_, index) => `line ${13 + index} of a\n`).join(''));
    logs.append('b', 'x'.repeat(90));
    logs.append('c', 'y'.repeat(90));
    // a (the least recently written) gave way to keep 250 bytes in all.
    expect(logs.text('a')).toBeNull();
    expect(logs.text('b')).toBe(`${'x'.repeat(90)}\n`);
    expect(logs.bytes()).toBeLessThanOrEqual(250);
    expect(logs.text('nobody')).toBeNull();
  });

  it('packs a ring into less memory, gives the same text from it, and unpacks it for the next line', () => {
    const logs = createSessionLogs(4000, 6000);
    const line = (index: number) => `2026-12-05T10:00:00.000Z codex.tool_result {"call_id":"c-${index}","output":"ünïcode ${'x'.repeat(40)}"}`;
    for (let index = 0; index < 60; index++) logs.append('a', line(index));
    const text = logs.text('a');
    const held = logs.bytes();
    logs.pack('a');
    expect(logs.bytes()).toBe(held);
    expect(logs.packedBytes()).toBeGreaterThan(0);
    expect(logs.packedBytes()).toBeLessThan(held / 4);
    expect(logs.text('a')).toBe(text);
    // A line more: unpacked, the oldest give way as before.
    logs.append('a', line(60));
    expect(logs.packedBytes()).toBe(0);
    const lines = (logs.text('a') as string).split('\n').slice(0, -1);
    expect(lines.at(-1)).toBe(line(60));
    expect(lines).toEqual((text as string).split('\n').slice(0, -1).slice(1 - lines.length).concat([line(60)]));
    // A packed ring pushed out by the total bound lets go of its packed bytes too.
    logs.pack();
    for (let index = 0; index < 30; index++) logs.append('b', line(index));
    expect(logs.text('a')).toBeNull();
    expect(logs.packedBytes()).toBe(0);
    expect(logs.bytes()).toBeLessThanOrEqual(6000);
  });
});
