/**
 * The timeout stage of an export queue, as a decorator over any {@link Sender}: each send gets
 * the configured per-send limit, or less when the caller's budget (what a flush or a stop has
 * left) is shorter. The transports enforce the limit themselves (a gRPC deadline, an abort
 * signal); this only chooses it, so a batch is never on the wire twice at once.
 */
import type { Sender } from './sender.js';

/**
 * Wraps `sender` so that `send(bytes, budgetMs)` passes on `min(timeoutMs, budgetMs)`, at least
 * 1 ms (`Infinity` as the budget: no flush or stop is waiting). Does not start timers of its own
 * and does not resolve early: a sender that overruns its timeout is still awaited. `close()` is
 * the wrapped sender's.
 */
export function withSendTimeout(sender: Sender, timeoutMs: number): Sender {
  return {
    send: (bytes, budgetMs) => sender.send(bytes, Math.max(1, Math.min(timeoutMs, budgetMs))),
    close: () => sender.close(),
    releasesBytes: sender.releasesBytes === true,
  };
}
