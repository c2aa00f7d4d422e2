/**
 * Feedback reports from submission to delivery: check, make durable, answer, then upload with
 * retries, one report at a time, until the receiver takes it or refuses it for good.
 *
 *   feedback/submit --> checks (protocol/) --> StoredReport --> spool (synced) --> { feedbackId, queued }
 *                                                                  |
 *   timer (earliest due) --> uploadReport() --ok--> uploaded (payload removed)
 *                                            |--retryable--> pending, next attempt after backoff + jitter
 *                                            \--permanent--> failed (kept; `feedback/retry` revives it)
 *
 * Every final outcome is counted as `user.feedback.submitted{category, include_logs, success}`.
 */
import type { Logger } from 'pino';

import {
  backoffDelayMs,
  type BackoffPolicy,
  checkFeedbackParams,
  ErrorCodes,
  type FeedbackCategory,
  type FeedbackCounts,
  type FeedbackEntry,
  type FeedbackShow,
  type FeedbackSubmit,
  SESSION_TAG_KEYS,
} from '../../protocol/index.js';
import type { SendOutcome } from '../delivery/sender.js';
import type { SessionRegistry } from '../session-registry.js';
import type { StoredReport, UploadTarget } from './report.js';
import type { SessionLogs } from './session-logs.js';
import { entryOf, type FeedbackSpool, newReportId, SpoolFullError } from './spool.js';

/** Longest one upload attempt may take (Codex gives its Sentry upload 10 s). */
export const UPLOAD_TIMEOUT_MS = 10_000;

export interface FeedbackServiceOptions {
  readonly spool: FeedbackSpool;
  /** `null`: no endpoint configured; reports wait in the spool. */
  readonly target: UploadTarget | null;
  readonly targetDescription: string | null;
  readonly enabled: boolean;
  /** Backoff between attempts: the step before the second attempt, doubling per attempt up to the largest. */
  readonly retry: BackoffPolicy;
  /** One attempt; `signal` aborts it when the daemon stops. */
  readonly upload: (report: StoredReport, target: UploadTarget, signal: AbortSignal) => Promise<SendOutcome>;
  readonly sessions: SessionRegistry;
  readonly sessionLogs: SessionLogs;
  /** Records a submission's final outcome as `user.feedback.submitted`. */
  readonly recordOutcome: (category: FeedbackCategory, includeLogs: boolean, success: boolean) => void;
  readonly logger: Logger;
}

export type FeedbackOutcome<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly code: number; readonly message: string; readonly reason: string };

export interface FeedbackService {
  submit(params: unknown, client: { name: string; version: string }): Promise<FeedbackOutcome<FeedbackSubmit.Result>>;
  list(): FeedbackEntry[];
  show(id: string): FeedbackShow.Result | undefined;
  /** Makes a pending or failed report due now; `undefined` when there is no such report. */
  retry(id: string): Promise<FeedbackEntry | undefined>;
  counts(): FeedbackCounts;
  /** Stops scheduling uploads and aborts the one under way: it is retried after a restart. */
  stop(): void;
  /**
   * Takes a reloaded `[feedback]` table. A new endpoint makes every pending report due at once;
   * an upload under way ends on the old one.
   */
  reconfigure(settings: FeedbackSettings): Promise<void>;
}

/** The `[feedback]` settings a reload may change. */
export type FeedbackSettings = Pick<FeedbackServiceOptions, 'target' | 'targetDescription' | 'enabled' | 'retry'>;

function refused<T>(code: number, message: string, reason: string): FeedbackOutcome<T> {
  return { ok: false, code, message, reason };
}

export function createFeedbackService(options: FeedbackServiceOptions): FeedbackService {
  const { spool, logger } = options;
  let { target, targetDescription, enabled, retry } = options;
  let timer: NodeJS.Timeout | null = null;
  let uploading = false;
  let stopped = false;
  /** Aborts the upload under way when the daemon stops: a hanging receiver must not hold its exit. */
  const stopping = new AbortController();

  function due(): FeedbackEntry[] {
    return spool
      .entries()
      .filter((entry) => entry.state === 'pending' && entry.nextAttemptAt !== null)
      .sort((a, b) => (a.nextAttemptAt as string).localeCompare(b.nextAttemptAt as string));
  }

  /** Sets the timer for the earliest due report. */
  function schedule(): void {
    if (stopped || target === null || uploading) return;
    if (timer !== null) clearTimeout(timer);
    timer = null;
    const next = due()[0];
    if (next === undefined) return;
    timer = setTimeout(() => void uploadNext(), Math.max(0, Date.parse(next.nextAttemptAt as string) - Date.now()));
    timer.unref();
  }

  async function uploadNext(): Promise<void> {
    timer = null;
    if (stopped || target === null) return;
    const entry = due().find((candidate) => Date.parse(candidate.nextAttemptAt as string) <= Date.now());
    if (entry === undefined) return schedule();
    uploading = true;
    try {
      const report = spool.load(entry.feedbackId);
      if (report === undefined) {
        await spool.update({ ...entry, state: 'failed', nextAttemptAt: null, lastError: 'the report file is missing from the spool' });
        return;
      }
      const outcome = await options.upload(report, target, stopping.signal);
      const attempts = entry.attempts + 1;
      const now = new Date();
      switch (outcome.kind) {
        case 'ok':
          await spool.update({ ...entry, state: 'uploaded', attempts, nextAttemptAt: null, lastError: null, uploadedAt: now.toISOString() });
          options.recordOutcome(entry.category, entry.includeLogs, true);
          logger.info({ feedbackId: entry.feedbackId, attempts }, 'feedback uploaded');
          break;
        case 'retryable': {
          // Exponential backoff with jitter in [½, 1½) of the step, at least the receiver's Retry-After.
          const next = new Date(now.getTime() + backoffDelayMs(attempts, retry, { retryAfterMs: outcome.retryAfterMs }));
          await spool.update({ ...entry, state: 'pending', attempts, nextAttemptAt: next.toISOString(), lastError: outcome.message });
          logger.warn({ feedbackId: entry.feedbackId, attempts, nextAttemptAt: next.toISOString(), problem: outcome.message }, 'feedback upload failed; will retry');
          break;
        }
        case 'permanent':
          await spool.update({ ...entry, state: 'failed', attempts, nextAttemptAt: null, lastError: outcome.message });
          options.recordOutcome(entry.category, entry.includeLogs, false);
          logger.warn({ feedbackId: entry.feedbackId, attempts, problem: outcome.message }, 'feedback refused by the receiver; kept as failed');
          break;
      }
    } catch (error) {
      logger.error({ feedbackId: entry.feedbackId, problem: (error as Error).message }, 'feedback spool write failed');
    } finally {
      uploading = false;
      schedule();
    }
  }

  /** The session's non-identifying context: its tag attributes, never account id or email. */
  function sessionContext(sessionId: string | undefined): Record<string, string> {
    const session = sessionId === undefined ? undefined : options.sessions.use(sessionId);
    const context: Record<string, string> = {};
    if (session === undefined) return context;
    for (const key of [...SESSION_TAG_KEYS, 'conversation.id', 'slug', 'terminal.type'] as const) {
      const value = session.attributes[key];
      if (value !== undefined) context[key] = value;
    }
    return context;
  }

  /**
   * Reports stored while no endpoint was configured (or whose state a crash cut short) have no
   * due time: with an endpoint now, they are due at once; `all` makes every pending one due
   * (a reload named a new endpoint: the old one's backoff says nothing about it).
   */
  async function dueWaitingReports(all = false): Promise<void> {
    if (target === null) return;
    const now = new Date().toISOString();
    for (const entry of spool.entries()) {
      if (entry.state === 'pending' && (all || entry.nextAttemptAt === null)) await spool.update({ ...entry, nextAttemptAt: now });
    }
  }
  dueWaitingReports().then(schedule, (error: unknown) => logger.error({ problem: (error as Error).message }, 'feedback spool write failed'));

  return {
    async submit(params, client) {
      if (!enabled) return refused(ErrorCodes.FeedbackDisabled, 'feedback/submit: feedback is turned off ([feedback] enabled = false)', 'feedback_disabled');
      const checked = checkFeedbackParams(params);
      if (!checked.ok) return refused(ErrorCodes.InvalidParams, checked.message, 'invalid_params');
      const value = checked.value;
      // With includeLogs, the client's logs, else the session's recent events; without it, none.
      const logs = value.includeLogs ? (value.logs ?? (value.sessionId === undefined ? null : options.sessionLogs.text(value.sessionId))) : null;
      const id = newReportId();
      const createdAt = new Date().toISOString();
      const report: StoredReport = {
        id,
        createdAt,
        category: value.category,
        note: value.note ?? null,
        sessionId: value.sessionId ?? null,
        includeLogs: value.includeLogs,
        logs,
        attachments: (value.attachments ?? []).map((attachment) => ({ name: attachment.name, contentType: attachment.contentType ?? 'application/octet-stream', data: attachment.data })),
        tags: value.tags ?? {},
        client,
        session: sessionContext(value.sessionId),
      };
      const entry: FeedbackEntry = { ...entryOf(report), nextAttemptAt: target === null ? null : createdAt };
      try {
        await spool.add(report, entry);
      } catch (error) {
        options.recordOutcome(report.category, report.includeLogs, false);
        if (error instanceof SpoolFullError) return refused(ErrorCodes.FeedbackSpoolFull, `feedback/submit: ${error.message}; nothing was stored`, 'feedback_spool_full');
        logger.error({ problem: (error as Error).message }, 'feedback could not be written to the spool');
        return refused(ErrorCodes.FeedbackNotStored, `feedback/submit: the report could not be written to ${spool.dir}: ${(error as Error).message}`, 'feedback_not_stored');
      }
      logger.info({ feedbackId: id, category: report.category, includeLogs: report.includeLogs, logsBytes: entry.logsBytes }, 'feedback queued');
      schedule();
      return { ok: true, value: { feedbackId: id, status: 'queued' } };
    },
    list: () => spool.entries(),
    show(id) {
      const entry = spool.entry(id);
      if (entry === undefined) return undefined;
      const report = spool.load(id);
      return { ...entry, tags: report?.tags ?? {}, attachmentNames: report?.attachments.map((attachment) => attachment.name) ?? [], session: report?.session ?? {} };
    },
    async retry(id) {
      const entry = spool.entry(id);
      if (entry === undefined) return undefined;
      if (entry.state === 'uploaded') return entry;
      const revived: FeedbackEntry = { ...entry, state: 'pending', attempts: 0, nextAttemptAt: target === null ? null : new Date().toISOString() };
      await spool.update(revived);
      schedule();
      return revived;
    },
    counts() {
      const counts = { pending: 0, uploaded: 0, failed: 0 };
      for (const entry of spool.entries()) counts[entry.state]++;
      return { ...counts, spoolBytes: spool.bytes(), uploader: target?.kind ?? null, endpoint: targetDescription };
    },
    async reconfigure(settings) {
      const moved = JSON.stringify(settings.target) !== JSON.stringify(target);
      ({ target, targetDescription, enabled, retry } = settings);
      if (timer !== null) clearTimeout(timer);
      timer = null;
      if (moved) await dueWaitingReports(true);
      schedule();
    },
    stop() {
      stopped = true;
      stopping.abort();
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },
  };
}
