/**
 * Writes that fail, by where they go: the export spool of a signal, the feedback spool, the file
 * exporter's folder. Each place keeps, from its first failure until a write there succeeds, since
 * when it fails, its last error code, how many writes failed and what the failures cost, so that
 * `daemon/status` and `codexd status` say which path is in trouble, since when and what is being
 * lost or held back. (The journal and the log have fields of their own: `journalFailure`,
 * `logFailure`.)
 */
import type { DiskCondition, DiskConditionPlace } from '../protocol/index.js';

export interface DiskConditions {
  /** A write to `path` failed; `effect` says what that failure cost, in words. */
  failed(place: DiskConditionPlace, path: string, error: unknown, effect: string): void;
  /** A write to `path` succeeded: its condition, if any, is over. */
  succeeded(place: DiskConditionPlace, path: string): void;
  list(): DiskCondition[];
}

/** The error's code (`ENOSPC`, `EFBIG`, `EIO`, ...), else its message. */
export function errorCode(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string') return code;
  return error instanceof Error ? error.message : String(error);
}

export function createDiskConditions(): DiskConditions {
  const conditions = new Map<string, { place: DiskConditionPlace; path: string; since: string; error: string; failures: number; effect: string }>();
  const keyOf = (place: DiskConditionPlace, path: string): string => `${place}\u0000${path}`;
  return {
    failed(place, path, error, effect) {
      const key = keyOf(place, path);
      const known = conditions.get(key);
      if (known === undefined) conditions.set(key, { place, path, since: new Date().toISOString(), error: errorCode(error), failures: 1, effect });
      else Object.assign(known, { error: errorCode(error), failures: known.failures + 1, effect });
    },
    succeeded(place, path) {
      if (conditions.size > 0) conditions.delete(keyOf(place, path));
    },
    list: () => [...conditions.values()].map((condition) => ({ ...condition })),
  };
}
