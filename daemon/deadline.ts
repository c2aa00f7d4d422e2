/** Bounding a wait: every await on I/O in the daemon has a deadline. */

/**
 * Settles with `work`'s value, or with `'timeout'` once `timeoutMs` has passed; rejects when
 * `work` does. Does not cancel `work`: the caller decides what an abandoned operation means.
 */
export function deadline<T>(work: Promise<T>, timeoutMs: number): Promise<T | 'timeout'> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => resolve('timeout'), timeoutMs);
    timer.unref();
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
