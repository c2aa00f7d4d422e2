/**
 * Exponential backoff with jitter, as one pure formula: the export queues, the feedback uploader
 * and the client's reconnects each keep their own attempt count and timer and ask this for
 * the delay. No timers, no clock: the caller adds the delay to its own `now`.
 */

export interface BackoffPolicy {
  /** The step after the first failure; it doubles per consecutive failure. */
  readonly initialMs: number;
  /** Largest step, before jitter. */
  readonly maxMs: number;
  /**
   * The delay is the step times a factor drawn from [low, high). Default
   * {@link DEFAULT_BACKOFF_JITTER}; `[1, 1]` for none.
   */
  readonly jitter?: readonly [low: number, high: number];
}

/** ½ to 1½ of the step: attempts of many processes that failed together spread out, and the mean stays the step. */
export const DEFAULT_BACKOFF_JITTER: readonly [number, number] = [0.5, 1.5];

export interface BackoffInputs {
  /** A receiver's `Retry-After` (or gRPC RetryInfo) delay: the delay is never shorter. */
  readonly retryAfterMs?: number | null;
  /** A number in [0, 1); default `Math.random`. */
  readonly random?: () => number;
}

/**
 * The wait before the attempt after the `attempt`th failure in a row (1 for the first):
 * `max(retryAfterMs, round(min(maxMs, initialMs × 2^(attempt−1)) × j))`, `j` drawn from the
 * policy's jitter range. A receiver's delay is not cut by `maxMs` (its parser bounds it); an
 * attempt below 1 counts as 1. Draws one random number per call.
 */
export function backoffDelayMs(attempt: number, policy: BackoffPolicy, inputs: BackoffInputs = {}): number {
  const [low, high] = policy.jitter ?? DEFAULT_BACKOFF_JITTER;
  const step = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1));
  const random = inputs.random ?? Math.random;
  return Math.max(inputs.retryAfterMs ?? 0, Math.round(step * (low + random() * (high - low))));
}
