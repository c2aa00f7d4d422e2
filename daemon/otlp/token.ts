/**
 * The OTLP receiver's bearer token. Any local user can reach a loopback port, so a sender must
 * show a secret only this user can read: 32 random bytes as hex, made at the first start that
 * needs it in a file of mode 0600 in the daemon's state folder, and kept across restarts so a
 * configured sender goes on working. Compared in constant time; never logged.
 */
import { closeSync, fstatSync, openSync, readFileSync, writeSync } from 'node:fs';
import { constants } from 'node:fs';

export const TOKEN_FILE = 'otlp-token';

/** Reads the token at `path`, making it first when there is none; throws when the file is not the user's own, private one. */
export function loadOrCreateToken(path: string): string {
  try {
    const fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      const token = process.getBuiltinModule('node:crypto').randomBytes(32).toString('hex');
      writeSync(fd, `${token}\n`);
      return token;
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new Error(`${path} is not a regular file`);
    if (typeof process.getuid === 'function' && info.uid !== process.getuid()) throw new Error(`${path} belongs to another user`);
    if ((info.mode & 0o077) !== 0) throw new Error(`${path} may be read by other users (mode ${(info.mode & 0o777).toString(8)}); make it 0600`);
    const token = readFileSync(fd, 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(token)) throw new Error(`${path} does not hold a codexd token (64 hex digits)`);
    return token;
  } finally {
    closeSync(fd);
  }
}

/** True when `header` (an `authorization` value) is `Bearer <token>`, compared in constant time. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (typeof header !== 'string') return false;
  const expected = Buffer.from(`Bearer ${token}`);
  const given = Buffer.from(header.trim());
  // Lengths differ for every wrong scheme or size; comparing equal lengths keeps the time constant.
  if (given.length !== expected.length) return false;
  return process.getBuiltinModule('node:crypto').timingSafeEqual(given, expected);
}
