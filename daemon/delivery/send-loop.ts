/**
 * The send stage of an export queue: takes batches from a {@link BatchSource} one at a time,
 * sends each through the current sender, and after a retryable failure waits out the backoff
 * before the next attempt. It knows nothing of memory or disk; the source says what goes next and
 * settles what was sent.
 *
 *              schedule()                 timer fires / flush()
 *   idle ─────────────────> waiting ──────────────────────────> sending ──run ends──> idle
 *     └──────────────── flush() / setSender() ─────────────────────┘
 *   any ──stop()──> stopping (no timer from now on; one last run within the deadline) ──> stopped
 *
 * A run sends until the source is empty, a send fails, or its deadline passes. Only one run is
 * under way at a time; a second request joins it.
 */
import { backoffDelayMs, type BackoffPolicy, type Signal } from '../../protocol/index.js';
import { requestWritten } from './byte-buffer.js';
import { isRetryable, type PermanentOutcome, type Sender, type SendOutcome } from './sender.js';

export type SendLoopState =
  /** Nothing to send, or nothing scheduled yet. */
  | 'idle'
  /** The timer is set for the next attempt: when the backoff ends, or at once after a hand-over. */
  | 'waiting'
  /** A run of sends is under way. */
  | 'sending'
  /** A stop began: no timer is set from now on; the stop's last run may be under way. */
  | 'stopping'
  /** Nothing more is sent; a send still on the wire ends unheeded. */
  | 'stopped';

/** Where the loop takes batches from and hands back what became of them. */
export interface BatchSource<B extends { readonly bytes: Uint8Array }> {
  /** The batch to send next, or null when nothing waits. */
  next(): B | null;
  /**
   * Told first when a send ends, whatever the loop's state. True when the batch was moved to disk
   * while it was on the wire and is settled there: the loop then does not {@link settle} it.
   */
  settleMoved(batch: B, outcome: SendOutcome): boolean;
  /** The receiver took or refused the batch: it leaves the queue and is counted. */
  settle(batch: B, outcome: { readonly kind: 'ok' } | PermanentOutcome): void;
  /** A send failed and may be retried; the loop waits out the backoff from now. */
  failing(): void;
}

export interface SendLoopOptions<B extends { readonly bytes: Uint8Array }> {
  readonly signal: Signal;
  /** A sender that takes the time left to a deadline as its timeout (see send-timeout.ts). */
  readonly sender: Sender;
  readonly source: BatchSource<B>;
  readonly retry: BackoffPolicy;
  readonly onError: (message: string) => void;
  /**
   * Called once, synchronously, as the loop stops: what is still queued must move to disk before
   * a send ending later is told of it.
   */
  readonly onStopped: () => void;
}

export interface SendLoopStatus {
  readonly failures: number;
  /** Epoch ms of the next attempt after a failure; 0 when none is waiting. */
  readonly nextAttemptAt: number;
  readonly lastError: { readonly at: string; readonly message: string } | null;
}

export interface SendLoop<B> {
  state(): SendLoopState;
  /** Sets the backoff timer when idle and something waits. */
  schedule(): void;
  /** Sends now, ignoring the backoff, until empty or `timeoutMs`; true when nothing is left. */
  flush(timeoutMs: number): Promise<boolean>;
  /**
   * Waits for a run under way, then runs once more, whatever the backoff said, both within
   * `deadline` (epoch ms); then stops. A second call returns the first call's promise.
   */
  stop(deadline: number): Promise<void>;
  /**
   * Sends from now on through `sender`, at once. Resolves when the send on the wire, if any, has
   * ended on the old one.
   */
  setSender(sender: Sender): Promise<void>;
  /** The batch being sent now, if any. */
  onWire(): B | null;
  status(): SendLoopStatus;
}

/** Resolves when `work` settles or at `deadline` (epoch ms), whichever comes first. */
function waitAtMost(work: Promise<unknown>, deadline: number): Promise<unknown> {
  return Promise.race([work, new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref())]);
}

export function createSendLoop<B extends { readonly bytes: Uint8Array }>(options: SendLoopOptions<B>): SendLoop<B> {
  const { source } = options;
  let state: SendLoopState = 'idle';
  let sender = options.sender;
  /** Set exactly while `state` is 'waiting'. */
  let timer: NodeJS.Timeout | null = null;
  /** The run under way (in 'sending', or in 'stopping' and 'stopped' while the last one ends). */
  let run: Promise<boolean> | null = null;
  let wire: { readonly batch: B; readonly send: Promise<SendOutcome> } | null = null;
  let failures = 0;
  let nextAttemptAt = 0;
  let lastError: SendLoopStatus['lastError'] = null;
  let stopping: Promise<void> | null = null;

  /** Cancels the wait for the next attempt (a flush, a new sender or a stop sends at once). */
  function cancelWait(): void {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (state === 'waiting') state = 'idle';
  }

  function schedule(): void {
    if (state !== 'idle' || source.next() === null) return;
    state = 'waiting';
    timer = setTimeout(() => {
      timer = null;
      state = 'idle';
      void startRun(Infinity);
    }, Math.max(0, nextAttemptAt - Date.now()));
    timer.unref();
  }

  /** Starts a run, or joins the one under way. */
  function startRun(deadline: number): Promise<boolean> {
    if (run !== null) return run;
    if (state === 'idle') state = 'sending';
    const current = sendUntil(deadline);
    run = current;
    // Registered before anyone else can await the run, so it is cleared before they resume.
    void current.then(() => {
      if (run === current) run = null;
    });
    return current;
  }

  function recordFailure(message: string, retryAfterMs: number | null): void {
    failures++;
    lastError = { at: new Date().toISOString(), message };
    nextAttemptAt = Date.now() + backoffDelayMs(failures, options.retry, { retryAfterMs });
    options.onError(`${options.signal} export failed, will retry: ${message}`);
  }

  /**
   * Sends batches one at a time until the source is empty, a send fails, or `deadline` passes;
   * resolves true when nothing is left. Never rejects.
   */
  async function sendUntil(deadline: number): Promise<boolean> {
    try {
      for (let batch = source.next(); batch !== null && Date.now() < deadline; batch = source.next()) {
        const using = sender;
        const send = using.send(batch.bytes, deadline - Date.now());
        wire = { batch, send };
        const outcome = await send.finally(() => (wire = null));
        const moved = source.settleMoved(batch, outcome);
        // A stop moved this batch to disk while it was on the wire: nothing more to do.
        if (state === 'stopped') return false;
        if (isRetryable(outcome)) {
          // The destination changed while this send was on the wire: the new one gets it now.
          if (using !== sender) continue;
          recordFailure(outcome.message, outcome.retryAfterMs);
          source.failing();
          return false;
        }
        failures = 0;
        nextAttemptAt = 0;
        if (moved) continue;
        if (outcome.kind === 'permanent') lastError = { at: new Date().toISOString(), message: outcome.message };
        source.settle(batch, outcome);
        if (using.releasesBytes === true) requestWritten(batch.bytes);
      }
      return source.next() === null;
    } catch (error) {
      options.onError(`${options.signal} export queue: ${(error as Error).message}`);
      return false;
    } finally {
      if (state === 'sending') state = 'idle';
      schedule();
    }
  }

  return {
    state: () => state,
    schedule,
    async flush(timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      nextAttemptAt = 0;
      cancelWait();
      // A run under way finishes first; then one run now, which stops at a failure.
      if (run !== null) await waitAtMost(run, deadline);
      if (source.next() === null) return true;
      // Out of time, or a send still on the wire (the timer may fire a moment before the
      // deadline by the clock): joining that run could wait for as long as the send hangs.
      if (Date.now() >= deadline || run !== null) {
        // The retry timer this flush cancelled must be set again.
        schedule();
        return false;
      }
      return startRun(deadline);
    },
    stop(deadline) {
      stopping ??= (async () => {
        cancelWait();
        state = 'stopping';
        // One run within the deadline, whatever the backoff said; a send still on the wire at
        // the deadline is left to end unheeded (the source moves its batch to disk).
        if (run !== null) await waitAtMost(run, deadline);
        nextAttemptAt = 0;
        if (run === null && Date.now() < deadline) await waitAtMost(startRun(deadline), deadline);
        state = 'stopped';
        options.onStopped();
      })();
      return stopping;
    },
    async setSender(next) {
      sender = next;
      failures = 0;
      nextAttemptAt = 0;
      cancelWait();
      const inUse = wire?.send ?? null;
      schedule();
      if (inUse !== null) await inUse.catch(() => undefined);
    },
    onWire: () => wire?.batch ?? null,
    status: () => ({ failures, nextAttemptAt, lastError }),
  };
}
