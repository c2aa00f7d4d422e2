import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { createEventBuffer, TRUNCATION_MARK, withValuesCut } from '../client/event-buffer.js';
import { daemonTakesHandoffs, HANDOFF_STALE_MS, MAX_HANDOFF_FILES } from '../client/exit-handoff.js';
import { createRecordBuffer } from '../client/record-buffer.js';
import { MAX_EVENT_ATTRIBUTE_LENGTH, PACKAGE_VERSION, RUNTIME_FILES } from '../protocol/index.js';

describe('client record buffer', () => {
  it('sums identical counter increments, gathers histogram values, and keeps gauges one per call', () => {
    const buffer = createRecordBuffer(100);
    for (let i = 0; i < 10; i++) buffer.add('counter', 'codex.calls', 1, { tool: 'shell' });
    buffer.add('counter', 'codex.calls', 5, { tool: 'read' });
    buffer.add('histogram', 'codex.latency_ms', 3, undefined);
    expect(buffer.addToExisting('histogram', 'codex.latency_ms', 4, undefined)).toBe(true);
    expect(buffer.addToExisting('histogram', 'codex.latency_ms', 4, { tool: 'shell' })).toBe(false);
    buffer.add('gauge', 'codex.depth', 1, undefined);
    buffer.add('gauge', 'codex.depth', 2, undefined);
    expect(buffer.size).toBe(6);
    expect(buffer.take(100)).toEqual([
      { name: 'codex.calls', kind: 'counter', value: 10, tags: { tool: 'shell' } },
      { name: 'codex.calls', kind: 'counter', value: 5, tags: { tool: 'read' } },
      { name: 'codex.latency_ms', kind: 'histogram', values: [3, 4] },
      { name: 'codex.depth', kind: 'gauge', value: 1 },
      { name: 'codex.depth', kind: 'gauge', value: 2 },
    ]);
    expect(buffer.size).toBe(0);
  });

  it('takes at most `max` measurements, splitting a long values array and keeping the rest in order', () => {
    const buffer = createRecordBuffer(100);
    for (let i = 1; i <= 7; i++) buffer.add('histogram', 'codex.latency_ms', i, { tool: 'shell' });
    buffer.add('counter', 'codex.calls', 1, undefined);
    expect(buffer.take(3)).toEqual([{ name: 'codex.latency_ms', kind: 'histogram', values: [1, 2, 3], tags: { tool: 'shell' } }]);
    expect(buffer.size).toBe(5);
    // Later values still join the entry that is left.
    buffer.add('histogram', 'codex.latency_ms', 8, { tool: 'shell' });
    expect(buffer.take(100)).toEqual([
      { name: 'codex.latency_ms', kind: 'histogram', values: [4, 5, 6, 7, 8], tags: { tool: 'shell' } },
      { name: 'codex.calls', kind: 'counter', value: 1 },
    ]);
  });

  it('does not add to a counter that was already taken for sending', () => {
    const buffer = createRecordBuffer(100);
    buffer.add('counter', 'codex.calls', 1, undefined);
    const first = buffer.take(100);
    buffer.add('counter', 'codex.calls', 1, undefined);
    expect(first).toEqual([{ name: 'codex.calls', kind: 'counter', value: 1 }]);
    expect(buffer.take(100)).toEqual([{ name: 'codex.calls', kind: 'counter', value: 1 }]);
  });

  it('copies tags, so a host mutating its object later changes nothing recorded', () => {
    const buffer = createRecordBuffer(10);
    const tags = { tool: 'shell' };
    buffer.add('gauge', 'codex.depth', 1, tags);
    tags.tool = 'read';
    expect(buffer.take(1)[0]?.tags).toEqual({ tool: 'shell' });
  });

  it('is bounded: refuses new entries when full, still sums into existing ones', () => {
    const buffer = createRecordBuffer(2);
    expect(buffer.add('gauge', 'codex.a', 1, undefined)).toBe(true);
    expect(buffer.add('counter', 'codex.b', 1, undefined)).toBe(true);
    expect(buffer.add('gauge', 'codex.c', 1, undefined)).toBe(false);
    expect(buffer.add('counter', 'codex.b', 1, undefined)).toBe(true);
    expect(buffer.take(1)).toEqual([{ name: 'codex.a', kind: 'gauge', value: 1 }]);
    expect(buffer.add('gauge', 'codex.c', 1, undefined)).toBe(true);
    expect(buffer.take(10)).toEqual([
      { name: 'codex.b', kind: 'counter', value: 2 },
      { name: 'codex.c', kind: 'gauge', value: 1 },
    ]);
  });
});

describe('release comparison', () => {
  it('orders dotted versions numerically and ignores pre-release suffixes', async () => {
    const { compareVersions } = await import('../protocol/version.js');
    expect(compareVersions('0.10.0', '0.9.9')).toBe(1);
    expect(compareVersions('0.0.1', '0.1.0')).toBe(-1);
    expect(compareVersions('1.2.3', '1.2.3')).toBe(0);
    expect(compareVersions('1.2', '1.2.0')).toBe(0);
    expect(compareVersions('2.0.0-rc.1', '1.9.0')).toBe(1);
  });
});

describe('whether a daemon takes hand-off files', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  /** A runtime folder with a daemon lock of `lock` (if given) and hand-off files of these names. */
  function folder(lock: string | null, files: readonly string[] = []): string {
    const dir = mkdtempSync(join(tmpdir(), 'cxh-'));
    dirs.push(dir);
    if (lock !== null) writeFileSync(join(dir, RUNTIME_FILES.daemonLock), lock);
    if (files.length > 0) mkdirSync(join(dir, RUNTIME_FILES.handoffDir));
    for (const name of files) writeFileSync(join(dir, RUNTIME_FILES.handoffDir, name), '{}');
    return dir;
  }
  const live = `${process.pid}\n2026-12-07T00:00:00.000Z\n${PACKAGE_VERSION}\n`;
  const now = Date.now();

  it('only while a live daemon as new as the client holds the lock, and no file has waited too long', () => {
    expect(daemonTakesHandoffs(folder(live), now)).toBe(true);
    expect(daemonTakesHandoffs(folder(live, [`1-${now - 500}-abc.json`]), now)).toBe(true);
    expect(daemonTakesHandoffs(folder(`${process.pid}\n2026-12-07T00:00:00.000Z\n99.0.0\n`), now)).toBe(true);
    // No daemon, or a lock it left when killed.
    expect(daemonTakesHandoffs(folder(null), now)).toBe(false);
    expect(daemonTakesHandoffs(folder(`999999999\n2026-12-07T00:00:00.000Z\n${PACKAGE_VERSION}\n`), now)).toBe(false);
    // An older release, or one whose lock does not say: the first client to connect replaces it.
    expect(daemonTakesHandoffs(folder(`${process.pid}\n2026-12-07T00:00:00.000Z\n0.0.1\n`), now)).toBe(false);
    expect(daemonTakesHandoffs(folder(`${process.pid}\n2026-12-07T00:00:00.000Z\n`), now)).toBe(false);
    // A file the daemon should have taken long ago: it is not taking them.
    expect(daemonTakesHandoffs(folder(live, [`1-${now - HANDOFF_STALE_MS - 1}-abc.json`]), now)).toBe(false);
    // Files being written or set aside are not waiting for it.
    expect(daemonTakesHandoffs(folder(live, [`.1-${now - 60_000}-abc.json.tmp`, `.1-${now - 60_000}-abc.json.refused`]), now)).toBe(true);
    // A folder filling up.
    expect(daemonTakesHandoffs(folder(live, Array.from({ length: MAX_HANDOFF_FILES / 2 + 1 }, (_, index) => `1-${now}-${index}.json`)), now)).toBe(false);
  });
});

describe('client event buffer', () => {
  it('is bounded in events and in characters, and hands events out oldest first', () => {
    const buffer = createEventBuffer(3, 10_000);
    for (let index = 0; index < 4; index++) expect(buffer.add({ sessionId: 's', name: `codex.e${index}` })).toBe(index < 3);
    expect(buffer.take(2).map((event) => event.name)).toEqual(['codex.e0', 'codex.e1']);
    expect(buffer.add({ sessionId: 's', name: 'codex.e4', logOnly: { output: 'x'.repeat(10_000) } })).toBe(false);
    expect(buffer.add({ sessionId: 's', name: 'codex.e5', logOnly: { output: 'x'.repeat(5000) } })).toBe(true);
    expect(buffer.take(10).map((event) => event.name)).toEqual(['codex.e2', 'codex.e5']);
    expect(buffer.size).toBe(0);
    // What was taken is free again.
    expect(buffer.add({ sessionId: 's', name: 'codex.e6', logOnly: { output: 'x'.repeat(9000) } })).toBe(true);
  });

  it('cuts string values over the protocol limit and marks the cut, leaving other events untouched', () => {
    const short = { sessionId: 's', name: 'codex.e', traceSafe: { n: 1 } };
    expect(withValuesCut(short)).toBe(short);
    const long = withValuesCut({ sessionId: 's', name: 'codex.e', logOnly: { output: 'y'.repeat(MAX_EVENT_ATTRIBUTE_LENGTH + 5), keep: 'z' } });
    expect(long.logOnly?.output).toBe('y'.repeat(MAX_EVENT_ATTRIBUTE_LENGTH - TRUNCATION_MARK.length) + TRUNCATION_MARK);
    expect(long.logOnly?.keep).toBe('z');
  });
});
