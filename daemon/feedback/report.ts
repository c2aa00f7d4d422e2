/**
 * A feedback report as the daemon keeps it in its spool and uploads it. Written once when
 * accepted; its delivery state is kept beside it (see spool.ts).
 */
import type { FeedbackCategory } from '../../protocol/index.js';

export interface StoredAttachment {
  readonly name: string;
  readonly contentType: string;
  /** The attachment's bytes, base64 as the client sent them (checked to decode). */
  readonly data: string;
}

export interface StoredReport {
  /** 32 lowercase hex digits: also the Sentry `event_id` and the HTTP `Idempotency-Key`, so a receiver can drop a repeat. */
  readonly id: string;
  /** ISO-8601 time the daemon accepted it. */
  readonly createdAt: string;
  readonly category: FeedbackCategory;
  readonly note: string | null;
  readonly sessionId: string | null;
  readonly includeLogs: boolean;
  /** The logs sent along (the client's, or the session's recent events); null without `includeLogs`. */
  readonly logs: string | null;
  readonly attachments: readonly StoredAttachment[];
  readonly tags: Readonly<Record<string, string>>;
  /** The submitting client (`clientInfo`), or the command line. */
  readonly client: { readonly name: string; readonly version: string };
  /** The session's non-identifying context (model, originator, app.version, ...), when the session was known. */
  readonly session: Readonly<Record<string, string>>;
}

/** A receiver's `Retry-After` beyond this is taken as this: the retry loop must try again within a day. */
export const MAX_RETRY_AFTER_MS = 24 * 60 * 60_000;

/** Where reports go: a plain HTTPS endpoint receiving JSON, or a Sentry project (by DSN). */
export type UploadTarget =
  | { readonly kind: 'http'; readonly endpoint: string; readonly headers: Readonly<Record<string, string>> }
  | { readonly kind: 'sentry'; readonly dsn: string };
