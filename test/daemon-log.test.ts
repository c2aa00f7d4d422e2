/**
 * The daemon's own log file is capped: past its size it becomes `<file>.1` (replacing the one
 * before) and a new file begins, so a daemon that runs for months holds at most twice the cap,
 * and no line is lost in the turn.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { createDaemonLogger } from '../daemon/logger.js';

describe('the daemon log', () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    dir = undefined;
  });

  it('rotates at its cap into <file>.1, keeping one older file, every line in one or the other', async () => {
    dir = mkdtempSync(join(tmpdir(), 'codexd-log-'));
    const file = join(dir, 'codexd.log');
    const cap = 4096;
    const log = createDaemonLogger(file, 'info', cap);
    const lines = 200;
    for (let index = 0; index < lines; index++) {
      log.logger.info({ index }, 'a line of the daemon log, long enough that forty of them pass the cap');
      // One line at a time reaches the file, as a daemon's lines come over time (lines that come
      // while a write is under way go together in the next one, which may pass the cap once).
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    log.flushSync();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(statSync(file).size).toBeLessThanOrEqual(cap);
    expect(statSync(`${file}.1`).size).toBeLessThanOrEqual(cap);
    expect(existsSync(`${file}.2`)).toBe(false);
    // The newest lines are all there, in order, across the two files; the oldest were rotated out.
    const kept = [readFileSync(`${file}.1`, 'utf8'), readFileSync(file, 'utf8')]
      .join('')
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { index: number }).index);
    expect(kept.length).toBeGreaterThan(10);
    expect(kept).toEqual(Array.from({ length: kept.length }, (_, at) => lines - kept.length + at));
    expect(log.failure()).toBeNull();
  });
});
