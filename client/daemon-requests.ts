/**
 * The client's requests to the daemon (`session/summary`, `feedback/submit`): sent in turn with
 * the batches, behind everything recorded before them, and answered through the request
 * correlator. The host never sees a rejection: no answer is `null`.
 */
import { checkFeedbackParams, ErrorCodes, FeedbackSubmit } from '../protocol/index.js';
import type { BatchFramer } from './batch-framer.js';
import { FIRST_CLIENT_REQUEST_ID } from './daemon-link.js';
import type { FrameQueue } from './frame-queue.js';
import { type Answer, createRequestCorrelator } from './request-correlator.js';

/** How long `submitFeedback()` waits: the daemon answers only once the report is synced to disk. */
export const FEEDBACK_TIMEOUT_MS = 10_000;

/** What `submitFeedback()` came to: the report's id once it is on the daemon's disk, or why not. */
export type FeedbackResult =
  | { readonly ok: true; readonly feedbackId: string }
  /** `code`: the JSON-RPC error code, or null when the daemon did not answer. */
  | { readonly ok: false; readonly code: number | null; readonly message: string };

export interface DaemonRequestsOptions {
  readonly framer: Pick<BatchFramer, 'control' | 'maxBytes'>;
  readonly queue: Pick<FrameQueue, 'queueEverything' | 'enqueue'>;
  /** True once the client is closed: nothing more is sent. */
  readonly closed: () => boolean;
}

export interface DaemonRequests {
  /**
   * Sends a request in turn with the batches, behind everything queued so far; resolves with
   * the daemon's answer, or null when none came within `timeoutMs` or the request could not be
   * sent (larger than the daemon's message limit, or the client is closed). Never rejects.
   */
  request(method: string, params: object, timeoutMs: number): Promise<Answer | null>;
  /** See `TelemetryClient.submitFeedback()`. */
  submitFeedback(params: FeedbackSubmit.Params): Promise<FeedbackResult>;
  /** Settles the request a message from the daemon answers, if any. */
  settle(message: unknown): void;
}

export function createDaemonRequests(options: DaemonRequestsOptions): DaemonRequests {
  const { framer, queue } = options;
  // The link's own requests (initialize, daemon/shutdown) take ids below the client's.
  const requests = createRequestCorrelator({ firstId: FIRST_CLIENT_REQUEST_ID });

  async function request(method: string, params: object, timeoutMs: number): Promise<Answer | null> {
    if (options.closed()) return null;
    const id = requests.nextId();
    const frame = framer.control(method, params, id);
    // The daemon closes a connection on a message over its limit: such a request is not sent.
    const { maxBytes } = framer;
    if (frame.frame.byteLength > maxBytes) {
      return { error: { code: ErrorCodes.MessageTooLarge, message: `${method}: the request of ${frame.frame.byteLength} bytes exceeds the daemon's message limit of ${maxBytes} bytes` } };
    }
    queue.queueEverything();
    const answer = requests.wait(id, method, timeoutMs);
    queue.enqueue(frame);
    return answer.catch(() => null);
  }

  return {
    request,
    async submitFeedback(params) {
      const checked = checkFeedbackParams(params);
      if (!checked.ok) return { ok: false, code: ErrorCodes.InvalidParams, message: checked.message };
      const answer = await request(FeedbackSubmit.method, checked.value, FEEDBACK_TIMEOUT_MS);
      if (answer === null) return { ok: false, code: null, message: `feedback/submit: the daemon did not answer within ${FEEDBACK_TIMEOUT_MS} ms; the report may not have been stored` };
      if (answer.error !== undefined) return { ok: false, code: answer.error.code, message: answer.error.message };
      return { ok: true, feedbackId: (answer.result as FeedbackSubmit.Result).feedbackId };
    },
    settle(message) {
      requests.settle(message);
    },
  };
}
