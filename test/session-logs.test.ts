import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { describe, expect, it } from 'vitest';

import { createSessionLogs } from '../daemon/feedback/session-logs.js';

const bytesOf = (line: string) => Buffer.byteLength(line) + 1;

/** The latest of `lines` that fit in `bound` bytes, as the ring's text. */
function tail(lines: readonly string[], bound: number): { text: string; bytes: number } {
  let bytes = 0;
  let first = lines.length;
  while (first > 0 && bytes + bytesOf(lines[first - 1] as string) <= bound) bytes += bytesOf(lines[--first] as string);
  return { text: lines.slice(first).map((line) => `${line}\n`).join(''), bytes };
}

/** Lines of a few to ~650 bytes, with characters of 1 to 4 bytes in UTF-8, the same every run. */
function varied(count: number): string[] {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const pieces = ['a', 'é', '€', '😀', ' {"k":1}'];
  return Array.from({ length: count }, (_, index) => {
    let line = `${index} `;
    for (let left = next() % 80; left > 0; left--) line += pieces[next() % pieces.length];
    return line;
  });
}

/**
 * Appends varied lines to five sessions' rings, packing one now and then (every ring every other
 * time), and checks each ring's text and the bytes held against a model: each session's lines
 * as strings, dropped as the interface says.
 */
function checkAgainstModel(perSession: number, total: number, packEvery: number): void {
  const model = new Map<string, { lines: string[]; bytes: number }>();
  let held = 0;
  const dropOldest = (kept: { lines: string[]; bytes: number }) => {
    const size = bytesOf(kept.lines.shift() as string);
    kept.bytes -= size;
    held -= size;
  };
  const logs = createSessionLogs(perSession, total);
  const lines = varied(20_000);
  let seed = 11;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  for (const [index, plain] of lines.entries()) {
    const session = `s${next() % 5}`;
    // Now and then a line longer than a chunk, or than the bound.
    const line = index % 300 === 17 ? `${plain}${'é'.repeat(20_000 + (next() % 20_000))}` : plain;
    logs.append(session, line);
    if (bytesOf(line) <= perSession) {
      const kept = model.get(session) ?? { lines: [], bytes: 0 };
      model.delete(session);
      model.set(session, kept);
      kept.lines.push(line);
      kept.bytes += bytesOf(line);
      held += bytesOf(line);
      while (kept.bytes > perSession) dropOldest(kept);
      while (held > total) {
        const [oldestId, oldest] = model.entries().next().value as [string, { lines: string[]; bytes: number }];
        if (model.size === 1) dropOldest(oldest);
        else {
          held -= oldest.bytes;
          model.delete(oldestId);
        }
      }
    }
    if (index % packEvery === 0) logs.pack(index % (2 * packEvery) === 0 ? undefined : session);
    if (index % 37 === 0 || index === lines.length - 1) {
      for (const id of ['s0', 's1', 's2', 's3', 's4']) {
        const kept = model.get(id)?.lines ?? [];
        expect(logs.text(id)).toBe(kept.length === 0 ? null : kept.map((line) => `${line}\n`).join(''));
      }
      expect(logs.bytes()).toBe(held);
    }
  }
}

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

  it('packs a ring into less memory, gives the same text from it, and takes its lines back as the next line makes the oldest give way', () => {
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
    // A line more, at the bound: the packed lines are taken back, and the oldest give way as before.
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

  it('keeps exactly the latest lines that fit, byte for byte, as its lines move through its chunks', () => {
    // 300,000 bytes: five chunks of 64 KiB and more, reused as the lines pass through them three
    // times; lines end anywhere in a chunk, and a few are longer than a chunk.
    const perSession = 300_000;
    const logs = createSessionLogs(perSession, 10 * perSession);
    const lines = varied(6000).map((line, index) => (index % 1500 === 700 ? `${line}${'ü'.repeat(40_000)}` : line));
    for (const [index, line] of lines.entries()) {
      logs.append('a', line);
      if (index % 97 === 0 || index % 1500 === 700 || index === lines.length - 1) {
        const expected = tail(lines.slice(0, index + 1), perSession);
        expect(logs.text('a')).toBe(expected.text);
        expect(logs.bytes()).toBe(expected.bytes);
      }
    }
  });

  it('does as a list of lines would, through appends, packing and both bounds, in many sessions', () => {
    checkAgainstModel(70_000, 200_000, 50);
  });

  it('does as a list of lines would with rings of many chunks, sealed as they fill and taken back as they give way', () => {
    checkAgainstModel(300_000, 700_000, 2000);
  });

  it('counts a line by its UTF-8 bytes, not its characters', () => {
    const logs = createSessionLogs(20, 1000);
    // é is 2 bytes, 😀 4 (and 2 UTF-16 units): 8 bytes and a newline.
    for (let index = 0; index < 3; index++) logs.append('a', 'éé😀');
    expect(logs.text('a')).toBe('éé😀\néé😀\n');
    expect(logs.bytes()).toBe(18);
    // Ten characters but 21 bytes with its newline: more than the bound, so left out.
    logs.append('a', 'é'.repeat(10));
    expect(logs.text('a')).toBe('éé😀\néé😀\n');
    // 19 bytes: fits alone, so both older lines give way.
    logs.append('a', 'é'.repeat(9));
    expect(logs.text('a')).toBe(`${'é'.repeat(9)}\n`);
    expect(logs.bytes()).toBe(19);
    // A lone surrogate goes in as U+FFFD, 3 bytes, and is counted as such.
    logs.append('b', '\ud800');
    expect(logs.text('b')).toBe('\ufffd\n');
    expect(logs.bytes()).toBe(19 + 4);
  });

  it('gives way by least recently written session for the total bound, and a lone session by its own oldest lines', () => {
    const logs = createSessionLogs(1000, 2500);
    const line = (session: string, index: number) => `${session}${String(index).padStart(3, '0')}${'.'.repeat(95)}`; // 100 bytes with its newline
    for (let index = 0; index < 10; index++) logs.append('a', line('a', index));
    for (let index = 0; index < 10; index++) logs.append('b', line('b', index));
    for (let index = 0; index < 4; index++) logs.append('a', line('a', 10 + index));
    expect(logs.bytes()).toBe(2000);
    // b is now the least recently written: 6 lines of c push all of it out, not a's oldest lines.
    for (let index = 0; index < 6; index++) logs.append('c', line('c', index));
    expect(logs.text('b')).toBeNull();
    expect(logs.text('a')).toBe(tail(Array.from({ length: 14 }, (_, index) => line('a', index)), 1000).text);
    expect(logs.text('c')).toBe(tail(Array.from({ length: 6 }, (_, index) => line('c', index)), 1000).text);
    expect(logs.bytes()).toBe(1600);

    // Alone in a total smaller than a session's bound, a session keeps what fits in the total.
    const alone = createSessionLogs(1000, 250);
    for (let index = 0; index < 10; index++) alone.append('a', line('a', index));
    expect(alone.text('a')).toBe(tail(Array.from({ length: 10 }, (_, index) => line('a', index)), 250).text);
    expect(alone.bytes()).toBe(200);

    // A line over the total, alone, goes with all the others; the ring takes lines again after.
    const over = createSessionLogs(300_000, 100);
    over.append('a', 'b'.repeat(200));
    expect(over.text('a')).toBeNull();
    over.append('a', 'c'.repeat(70_000));
    expect([over.text('a'), over.bytes()]).toEqual([null, 0]);
    over.append('a', 'd'.repeat(50));
    expect([over.text('a'), over.bytes()]).toEqual([`${'d'.repeat(50)}\n`, 51]);
  });

  it('packs a ring of many chunks chunk by chunk, seals its chunks as they fill, and gives way from its oldest line', () => {
    // About 160 KB of lines: three 64 KiB chunks, the first of which has already given way in part.
    const perSession = 160_000;
    const logs = createSessionLogs(perSession, 4 * perSession);
    const lines = varied(2400);
    for (const line of lines.slice(0, 1200)) logs.append('a', line);
    const before = tail(lines.slice(0, 1200), perSession);
    expect(logs.bytes()).toBe(before.bytes);
    expect(before.bytes).toBeGreaterThan(2 * 65536);
    logs.pack('a');
    expect(logs.text('a')).toBe(before.text);
    expect(logs.packedBytes()).toBeGreaterThan(0);
    expect(logs.packedBytes()).toBeLessThan(before.bytes / 2);
    for (const line of lines.slice(1200)) logs.append('a', line);
    expect(logs.text('a')).toBe(tail(lines, perSession).text);
    expect(logs.bytes()).toBe(tail(lines, perSession).bytes);
    // The lines packed have all given way; the chunks the new ones filled are sealed as they filled.
    expect(logs.packedBytes()).toBeGreaterThan(0);
    expect(logs.packedBytes()).toBeLessThan(logs.bytes() / 2);
    logs.pack('a');
    expect(logs.text('a')).toBe(tail(lines, perSession).text);
  });

  it('gives the same text and counts after packing and unpacking, and goes on appending from there', () => {
    const perSession = 20_000;
    const logs = createSessionLogs(perSession, 10 * perSession);
    const lines = varied(800);
    for (const line of lines.slice(0, 400)) logs.append('a', line);
    for (const line of lines.slice(0, 100)) logs.append('b', line);
    const before = { a: logs.text('a'), b: logs.text('b'), bytes: logs.bytes() };
    logs.pack();
    expect(logs.packedBytes()).toBeGreaterThan(0);
    expect(logs.bytes()).toBe(before.bytes);
    expect(logs.text('a')).toBe(before.a);
    expect(logs.text('b')).toBe(before.b);
    // Packing twice changes nothing.
    const packed = logs.packedBytes();
    logs.pack('a');
    expect(logs.packedBytes()).toBe(packed);

    // a's next line starts a new chunk, and its packed lines are taken back as they give way; b stays packed.
    logs.append('a', lines[400] as string);
    expect(logs.packedBytes()).toBeGreaterThan(0);
    expect(logs.packedBytes()).toBeLessThan(packed);
    expect(logs.text('b')).toBe(before.b);
    for (const line of lines.slice(401)) logs.append('a', line);
    expect(logs.text('a')).toBe(tail(lines, perSession).text);
    expect(logs.bytes()).toBe(tail(lines, perSession).bytes + tail(lines.slice(0, 100), perSession).bytes);
    // b's packed lines stay packed under its next one, within its bound.
    const bPacked = logs.packedBytes();
    logs.append('b', 'one more');
    expect(logs.packedBytes()).toBe(bPacked);
    expect(logs.text('b')).toBe(tail([...lines.slice(0, 100), 'one more'], perSession).text);
  });

  it('ignores a line larger than a session bound, without making its session the most recent', () => {
    const logs = createSessionLogs(100, 150);
    logs.append('a', 'a'.repeat(59));
    logs.append('b', 'b'.repeat(59));
    // 101 bytes with its newline: over the bound by one.
    logs.append('a', 'x'.repeat(100));
    logs.append('nobody', 'x'.repeat(100));
    expect(logs.text('a')).toBe(`${'a'.repeat(59)}\n`);
    expect(logs.text('nobody')).toBeNull();
    expect(logs.bytes()).toBe(120);
    // a is still the least recently written, so it gives way to c.
    logs.append('c', 'c'.repeat(39));
    expect(logs.text('a')).toBeNull();
    expect(logs.text('b')).toBe(`${'b'.repeat(59)}\n`);
    // 99 bytes with its newline: exactly the bound, so kept, and its own session's lines give way.
    logs.append('b', 'y'.repeat(99));
    expect(logs.text('b')).toBe(`${'y'.repeat(99)}\n`);
  });

  it("keeps the lines out of V8's heap", () => {
    // A full collection before each reading, so that only what is still reachable counts: the
    // lines appended below are garbage at once, unless the rings hold them as strings.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const logs = createSessionLogs();
    const filler = 'x'.repeat(480);
    gc();
    const before = getHeapStatistics().used_heap_size;
    for (let index = 0; index < 100_000; index++) logs.append(`session-${index % 4}`, `2026-12-05T10:00:00.000Z codex.sse_event {"n":${index},"s":"${filler}"}`);
    gc();
    const grown = getHeapStatistics().used_heap_size - before;
    expect(logs.bytes()).toBeGreaterThan(15 * 1024 * 1024);
    expect(grown).toBeLessThan(1024 * 1024);
  });
});
