/**
 * The journal's files: small writes compressed against the file's earlier lines, large ones as
 * they are, a frame a crash cut short ending the file, and the JSON lines files of earlier
 * versions still replayed.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

import { openJournal, SYNC_INTERVAL_MS } from '../daemon/delivery/journal.js';
import { readJournal } from '../daemon/delivery/journal-read.js';
import { COMPRESS_BELOW_BYTES, decodeJournalFrames, encodeJournalFrame, nextDictionary } from '../daemon/delivery/journal-frames.js';

const lineOf = (index: number): string =>
  `${JSON.stringify({ e: [{ name: 'codex.sse_event', logAttributes: { 'conversation.id': '0199a7c2-5f0e-7d31-9a4b-2f6c1e8d3b07', model: 'gpt-5.1-codex', originator: 'codex_cli_rs', duration_ms: index } }, { log: true, span: true }] })}\n`;

/** Frames for `texts`, one a write, as the journal makes them. */
function framesOf(texts: readonly string[]): Buffer {
  let dictionary: Buffer = Buffer.alloc(0);
  const frames: Buffer[] = [];
  for (const text of texts) {
    const bytes = Buffer.from(text);
    frames.push(...encodeJournalFrame(bytes, dictionary));
    dictionary = nextDictionary(dictionary, bytes);
  }
  return Buffer.concat(frames);
}

describe('journal frames', () => {
  it('decodes small writes compressed against the lines before them, and a large one as it is', () => {
    const small = Array.from({ length: 40 }, (_, index) => lineOf(index));
    const large = Array.from({ length: 1000 }, (_, index) => lineOf(1000 + index)).join('');
    expect(large.length).toBeGreaterThan(COMPRESS_BELOW_BYTES);
    const data = framesOf([...small, large, lineOf(7)]);
    expect(decodeJournalFrames(data)).toEqual({ text: [...small, large, lineOf(7)].join(''), torn: false });
    // Each small line repeats the one before it: compressed, it is a small part of itself.
    const smallBytes = framesOf(small).length;
    expect(smallBytes).toBeLessThan(small.join('').length / 4);
  });

  it('ends a file at a frame a crash cut short, with the frames before it', () => {
    const data = framesOf([lineOf(1), lineOf(2), lineOf(3)]);
    for (const cut of [1, 3, 8]) expect(decodeJournalFrames(data.subarray(0, data.length - cut))).toEqual({ text: lineOf(1) + lineOf(2), torn: true });
  });
});

describe('journal files', () => {
  let dir = '';
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    dir = mkdtempSync(join(tmpdir(), 'codexd-journal-frames-'));
  });
  afterEach(() => {
    vi.useRealTimers();
    rmSync(dir, { recursive: true, force: true });
  });

  it('writes a session\'s lines, a tick at a time, in a fraction of their size, and reads them back', () => {
    let accepted = 0;
    const journal = openJournal({ dir, counts: { accepted: () => accepted, settled: () => 0 }, maxBytes: 1 << 30, onPressure: () => undefined, onError: (message) => expect.fail(message) });
    const lines = Array.from({ length: 9 }, (_, index) => ({ m: [{ name: 'codex.turn.e2e_duration_ms', kind: 'histogram', value: 1000 + index, tags: { model: 'gpt-5.1-codex', originator: 'codex_cli_rs', session_source: 'cli' } }] }));
    for (const line of lines) {
      accepted++;
      journal.append(line);
      vi.advanceTimersByTime(SYNC_INTERVAL_MS);
    }
    const asJson = lines.reduce((sum, line) => sum + JSON.stringify(line).length + 1, 0);
    expect(journal.counts().writes).toBe(lines.length);
    expect(journal.counts().bytes).toBeLessThan(asJson / 2);
    expect(readJournal(dir).lines).toEqual(lines);
    journal.close();
  });

  it('replays the JSON lines files of earlier versions beside its own', () => {
    const earlier = join(dir, 'earlier');
    mkdirSync(earlier);
    const line = { m: [{ name: 'codex.a', kind: 'counter', value: 3 }] };
    writeFileSync(join(earlier, '001796476192657-000000.jnl'), `${JSON.stringify({ b: { metrics: 0, logs: 0, traces: 0 } })}\n${JSON.stringify(line)}\n`);
    writeFileSync(join(earlier, '001796476192658-000001.jnz'), framesOf([`${JSON.stringify({ b: { metrics: 1, logs: 0, traces: 0 } })}\n${JSON.stringify(line)}\n`]));
    const read = readJournal(earlier);
    expect(read.lines).toEqual([line, line]);
    expect(read.files.map((file) => file.slice(earlier.length + 1))).toEqual(readdirSync(earlier).sort());
    expect(readFileSync(read.files[0] as string, 'utf8')).toContain('"codex.a"');
  });
});
