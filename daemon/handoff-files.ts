/**
 * Opening what lies in the hand-off folder as if anyone could have put it there: any process of
 * the user can, and a mistake or an attacker may leave a FIFO, a symlink to /dev/zero or to a
 * secret, a directory, or another user's file under a `.json` name. Only the user's own regular
 * files are read, without following links and without blocking, within a size bound; the folder
 * itself must be the user's own real directory that nobody else can write.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, renameSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Why an entry of the folder was not read: the reasons status counts it under. */
export type HandoffRefusal = 'symlink' | 'not_regular' | 'foreign_owner' | 'too_large' | 'unreadable';

export type HandoffRead = { readonly ok: true; readonly text: string } | { readonly ok: false; readonly reason: HandoffRefusal } | { readonly ok: false; readonly reason: 'gone' };

const uid = typeof process.getuid === 'function' ? process.getuid() : null;

/**
 * Why the folder may not be scanned (a symlink, not a directory, another user's, writable by
 * group or others), or null when it may; `missing` when it does not exist (nothing to scan).
 */
export function handoffFolderProblem(dir: string): string | null | 'missing' {
  let stats;
  try {
    stats = lstatSync(dir);
  } catch {
    return 'missing';
  }
  if (stats.isSymbolicLink()) return 'is a symbolic link';
  if (!stats.isDirectory()) return 'is not a directory';
  if (uid !== null && stats.uid !== uid) return `belongs to uid ${stats.uid}, not to this user (${uid})`;
  if ((stats.mode & 0o022) !== 0) return `can be written by group or others (mode ${(stats.mode & 0o777).toString(8)})`;
  return null;
}

/**
 * Reads a hand-off file: opened with O_NOFOLLOW and O_NONBLOCK (a link or a FIFO neither leads
 * elsewhere nor blocks), then checked on the open descriptor, so what is read is what was
 * checked. At most `maxBytes` are read. Never throws.
 */
export function readHandoffFile(path: string, maxBytes: number): HandoffRead {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ok: false, reason: 'gone' };
    return { ok: false, reason: code === 'ELOOP' ? 'symlink' : 'unreadable' };
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return { ok: false, reason: 'not_regular' };
    if (uid !== null && stats.uid !== uid) return { ok: false, reason: 'foreign_owner' };
    if (stats.size > maxBytes) return { ok: false, reason: 'too_large' };
    const bytes = Buffer.alloc(stats.size);
    let read = 0;
    while (read < bytes.length) {
      const got = readSync(fd, bytes, read, bytes.length - read, read);
      if (got === 0) break;
      read += got;
    }
    return { ok: true, text: bytes.toString('utf8', 0, read) };
  } catch {
    return { ok: false, reason: 'unreadable' };
  } finally {
    closeSync(fd);
  }
}

/**
 * Moves an entry that was not read out of the way, inside the same folder, under a name scans
 * skip (`.<name>.refused`): it is counted once and left for the user to look at, never deleted
 * (a link is moved as a link; what it points to is not touched).
 */
export function setAside(path: string): void {
  try {
    renameSync(path, join(dirname(path), `.${basename(path)}.refused`));
  } catch {
    // Gone already, or the folder changed under us: the next scan sees it again.
  }
}
