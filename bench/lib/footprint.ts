/**
 * What a process and a folder take: a daemon's resident set from /proc, and the bytes of the
 * files under its spool and journal folders.
 */
import { type Dirent, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Resident set size of a process (VmRSS), in bytes; null without /proc. */
export function memoryOf(pid: number): { rss: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    return { rss: Number(/^VmRSS:\s+(\d+) kB$/m.exec(text)?.[1] ?? Number.NaN) * 1024 };
  } catch {
    return null;
  }
}

/** Bytes of the files under a folder, subfolders included (the journal keeps one per daemon); 0 when it does not exist. */
export function folderBytes(dir: string): number {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let total = 0;
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      total += folderBytes(path);
      continue;
    }
    try {
      total += statSync(path).size;
    } catch {
      // Removed between the listing and the stat (a segment sent, a journal file trimmed).
    }
  }
  return total;
}

/** The largest journal file (`*.jnz`, or `*.jnl` as earlier versions wrote them) under the journal folder (one subfolder per daemon), in bytes. */
export function largestJournalFile(dir: string): number {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  let largest = 0;
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) largest = Math.max(largest, largestJournalFile(path));
    else if (entry.name.endsWith('.jnz') || entry.name.endsWith('.jnl')) {
      try {
        largest = Math.max(largest, statSync(path).size);
      } catch {
        // Trimmed meanwhile.
      }
    }
  }
  return largest;
}
