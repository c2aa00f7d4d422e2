/**
 * The feedback spool: a folder under the user's state directory holding every report the daemon
 * accepted and its delivery state, so that an accepted report survives a crash, a restart and a
 * collector that is down.
 *
 *   <dir>/<id>.report.json   the report (written once; removed once uploaded)
 *   <dir>/<id>.state.json    its FeedbackEntry: state, attempts, next attempt, last error
 *
 * Every file is written to a temporary name, synced, renamed into place, and the folder synced:
 * after `add()` resolves, a `kill -9` or a power cut leaves either the whole report or none of
 * it. Bounded: reports waiting or failed may take `maxBytes` in all, and the states of at most
 * {@link MAX_UPLOADED_KEPT} uploaded reports are kept for `codexd feedback list`.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

import type { FeedbackEntry } from '../../protocol/index.js';
import type { DiskConditions } from '../disk-conditions.js';
import type { StoredReport } from './report.js';

/** Uploaded reports whose state is kept (their payload is deleted at upload); the oldest go first. */
export const MAX_UPLOADED_KEPT = 200;

export class SpoolFullError extends Error {
  override readonly name = 'SpoolFullError';
}

export interface FeedbackSpool {
  readonly dir: string;
  /** Writes the report and its first state durably; throws {@link SpoolFullError} when it does not fit, or the write's error. */
  add(report: StoredReport, entry: FeedbackEntry): Promise<void>;
  entries(): FeedbackEntry[];
  entry(id: string): FeedbackEntry | undefined;
  /** The report's content; `undefined` once uploaded or when its file is gone. */
  load(id: string): StoredReport | undefined;
  /** Replaces a report's state durably; an uploaded report's payload is removed. */
  update(entry: FeedbackEntry): Promise<void>;
  /** Bytes the spool's files take. */
  bytes(): number;
}

/** node:fs/promises, taken at first use like every builtin the daemon may not need. */
const fsp = (): typeof import('node:fs/promises') => process.getBuiltinModule('node:fs/promises');

const REPORT = '.report.json';
const STATE = '.state.json';

/** A new report id: 32 lowercase hex digits, the form Sentry wants for `event_id`. */
export function newReportId(): string {
  return process.getBuiltinModule('node:crypto').randomBytes(16).toString('hex');
}

/** A report's first state: pending, never tried, due as soon as there is somewhere to send it. */
export function entryOf(report: StoredReport): FeedbackEntry {
  return {
    feedbackId: report.id,
    category: report.category,
    createdAt: report.createdAt,
    state: 'pending',
    sessionId: report.sessionId,
    includeLogs: report.includeLogs,
    logsBytes: report.logs === null ? 0 : Buffer.byteLength(report.logs),
    attachments: report.attachments.length,
    note: report.note,
    attempts: 0,
    nextAttemptAt: null,
    lastError: null,
    uploadedAt: null,
  };
}

async function syncFolder(dir: string): Promise<void> {
  const handle = await fsp().open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

let writes = 0;

/** Temp file, written and synced (`flush`), then renamed into place. The caller syncs the folder. */
async function writeDurably(path: string, content: string): Promise<void> {
  // A name of its own per write: two updates of one report may overlap (a retry during an upload).
  const temp = `${path}.${process.pid}.${writes++}.tmp`;
  await fsp().writeFile(temp, content, { mode: 0o600, flush: true });
  await fsp().rename(temp, path);
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * Opens (creating it 0700) the spool in `dir` and reads every state in it. Temporary files of
 * a write a crash interrupted are removed; a report whose state file never made it is taken
 * as pending, since its reply was not sent before both were written.
 */
export function openFeedbackSpool(dir: string, maxBytes: number, onProblem: (message: string) => void, disk?: DiskConditions): FeedbackSpool {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const states = new Map<string, FeedbackEntry>();
  /** Bytes of report and state files, by id. */
  const sizes = new Map<string, number>();
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name.endsWith('.tmp')) {
      rmSync(path, { force: true });
      continue;
    }
    if (name.endsWith(REPORT) && !existsSync(join(dir, name.slice(0, -REPORT.length) + STATE))) {
      // The report was written and the crash came before its state: its sender got no answer,
      // but the report is whole; it is kept, pending, rather than lost.
      try {
        const report = JSON.parse(readFileSync(path, 'utf8')) as StoredReport;
        states.set(report.id, entryOf(report));
        sizes.set(report.id, fileSize(path));
      } catch (error) {
        onProblem(`feedback spool: unreadable report ${name}: ${(error as Error).message}`);
      }
      continue;
    }
    if (!name.endsWith(STATE)) continue;
    const id = name.slice(0, -STATE.length);
    try {
      states.set(id, JSON.parse(readFileSync(path, 'utf8')) as FeedbackEntry);
      sizes.set(id, fileSize(path) + fileSize(join(dir, id + REPORT)));
    } catch (error) {
      onProblem(`feedback spool: unreadable state ${name}: ${(error as Error).message}`);
    }
  }
  let total = [...sizes.values()].reduce((sum, size) => sum + size, 0);

  function pruneUploaded(): void {
    const uploaded = [...states.values()].filter((entry) => entry.state === 'uploaded').sort((a, b) => (a.uploadedAt ?? '').localeCompare(b.uploadedAt ?? ''));
    for (const entry of uploaded.slice(0, Math.max(0, uploaded.length - MAX_UPLOADED_KEPT))) {
      states.delete(entry.feedbackId);
      total -= sizes.get(entry.feedbackId) ?? 0;
      sizes.delete(entry.feedbackId);
      void fsp().rm(join(dir, entry.feedbackId + STATE), { force: true });
    }
  }
  pruneUploaded();

  return {
    dir,
    async add(report, entry) {
      const content = JSON.stringify(report);
      const state = JSON.stringify(entry);
      const size = Buffer.byteLength(content) + Buffer.byteLength(state);
      if (total + size > maxBytes) {
        throw new SpoolFullError(`the feedback spool holds ${total} bytes and may hold ${maxBytes}; this report of ${size} bytes does not fit`);
      }
      // Counted before the writes, so two submissions at once cannot both pass the bound.
      total += size;
      try {
        // The report first: a state without its report would be a report that cannot be sent.
        await writeDurably(join(dir, report.id + REPORT), content);
        await writeDurably(join(dir, report.id + STATE), state);
        await syncFolder(dir);
        disk?.succeeded('feedback_spool', dir);
      } catch (error) {
        disk?.failed('feedback_spool', dir, error, 'feedback/submit is refused (-32014): reports are not stored');
        total -= size;
        await fsp().rm(join(dir, report.id + REPORT), { force: true });
        await fsp().rm(join(dir, report.id + STATE), { force: true });
        throw error;
      }
      states.set(report.id, entry);
      sizes.set(report.id, size);
    },
    entries: () => [...states.values()].sort((a, b) => b.createdAt.localeCompare(a.createdAt)),
    entry: (id) => states.get(id),
    load(id) {
      try {
        return JSON.parse(readFileSync(join(dir, id + REPORT), 'utf8')) as StoredReport;
      } catch {
        return undefined;
      }
    },
    async update(entry) {
      const id = entry.feedbackId;
      states.set(id, entry);
      try {
        await writeDurably(join(dir, id + STATE), JSON.stringify(entry));
      } catch (error) {
        disk?.failed('feedback_spool', dir, error, "a stored report's upload state is not saved: after a restart it may be uploaded again");
        throw error;
      }
      disk?.succeeded('feedback_spool', dir);
      // Uploaded: the state says so durably before the payload goes, so a crash in between
      // leaves a report marked uploaded, never one uploaded twice on purpose.
      if (entry.state === 'uploaded') await fsp().rm(join(dir, id + REPORT), { force: true });
      await syncFolder(dir);
      const size = fileSize(join(dir, id + STATE)) + fileSize(join(dir, id + REPORT));
      total += size - (sizes.get(id) ?? 0);
      sizes.set(id, size);
      if (entry.state === 'uploaded') pruneUploaded();
    },
    bytes: () => total,
  };
}
