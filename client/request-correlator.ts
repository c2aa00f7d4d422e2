/**
 * Matches the daemon's JSON-RPC answers to the requests sent on one connection: it hands out
 * request ids, keeps what waits for each answer with its deadline, settles the request an answer
 * names, and rejects everything pending when the connection is gone. It writes nothing: the
 * caller frames and sends the request under the id it got.
 *
 * Shared by the thin client and the command line's control connection. It lives in client/
 * rather than protocol/ because it keeps timers (every request has a deadline), which protocol/
 * may not; cli/ is a client of the daemon and may import client/, and the daemon never does.
 */

/** The daemon's answer to a request: its result, or its JSON-RPC error. */
export interface Answer {
  readonly result?: unknown;
  readonly error?: { readonly code: number; readonly message: string };
}

export interface RequestCorrelatorOptions {
  /** The first id handed out; ids below it are the caller's own (the client's link uses 1 and 2). Default 1. */
  readonly firstId?: number;
  /** Called after a request passed its deadline and was rejected (the control connection gives up on a daemon that let it pass). */
  readonly onTimeout?: (id: number) => void;
}

export interface RequestCorrelator {
  /** The id for the next request: each one once, in increasing order. */
  nextId(): number;
  /**
   * Waits for the answer to request `id`: resolves with it (a JSON-RPC error is an answer too),
   * rejects with "`method`: no answer within `timeoutMs` ms" after the deadline, or with the
   * error given to {@link rejectAll}. The timer is not unref'd: a host awaiting an answer is kept
   * alive until it comes, or the deadline.
   */
  wait(id: number, method: string, timeoutMs: number): Promise<Answer>;
  /**
   * Settles the request `message` (a decoded JSON-RPC message) answers. Returns false, and does
   * nothing, when it answers none that is pending (no numeric id, an unknown one, or one whose
   * deadline passed).
   */
  settle(message: unknown): boolean;
  /** Rejects every pending request with `error`: their connection closed, no answer will come. */
  rejectAll(error: Error): void;
  /** Requests waiting for their answer. */
  readonly pending: number;
}

interface Waiting {
  readonly resolve: (answer: Answer) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

export function createRequestCorrelator(options: RequestCorrelatorOptions = {}): RequestCorrelator {
  const waiting = new Map<number, Waiting>();
  let next = options.firstId ?? 1;

  return {
    nextId: () => next++,
    wait(id, method, timeoutMs) {
      return new Promise<Answer>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          reject(new Error(`${method}: no answer within ${timeoutMs} ms`));
          options.onTimeout?.(id);
        }, timeoutMs);
        waiting.set(id, { resolve, reject, timer });
      });
    },
    settle(message) {
      const id = typeof message === 'object' && message !== null ? (message as { id?: unknown }).id : undefined;
      const entry = typeof id === 'number' ? waiting.get(id) : undefined;
      if (entry === undefined) return false;
      waiting.delete(id as number);
      clearTimeout(entry.timer);
      entry.resolve(message as Answer);
      return true;
    },
    rejectAll(error) {
      const entries = [...waiting.values()];
      waiting.clear();
      for (const entry of entries) {
        clearTimeout(entry.timer);
        entry.reject(error);
      }
    },
    get pending() {
      return waiting.size;
    },
  };
}
