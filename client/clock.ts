/**
 * The client's clocks, read through `process.hrtime`. The global `performance` would do, but its
 * first read loads perf_hooks and eight internal modules with it: about 2 ms of a short CLI's
 * start, for two numbers.
 */
const hrtime = process.hrtime;

/** A monotonic clock in milliseconds, with sub-millisecond precision, for durations. */
export function monotonicMs(): number {
  const [seconds, nanoseconds] = hrtime();
  return seconds * 1e3 + nanoseconds / 1e6;
}

/** Where the monotonic clock's 0 falls in epoch milliseconds; fixed on first use, for the process. */
let origin: number | undefined;

/**
 * Now, in milliseconds since the Unix epoch, advancing with the monotonic clock (sub-millisecond).
 * The anchor is `Date.now()`, whole milliseconds, taken at the end of its millisecond: the clock
 * runs at most 1 ms ahead of the wall clock, never behind a `Date.now()` read before it.
 */
export function epochMs(): number {
  const monotonic = monotonicMs();
  origin ??= Date.now() + 1 - monotonic;
  return origin + monotonic;
}
