/** Reading a receiver's `Retry-After` (RFC 9110 section 10.2.3), for feedback uploads and OTLP/HTTP. */

/**
 * `Retry-After` as delay-seconds or an HTTP-date, in milliseconds from `now`, at most `maxMs`;
 * null when absent or unreadable.
 */
export function parseRetryAfter(value: string | null, maxMs: number, now: number = Date.now()): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Math.min(Number(text) * 1000, maxMs);
  // All three HTTP-date forms open with the day's name; Date.parse alone would take "-5" as a year.
  const at = /^[A-Za-z]{3}/.test(text) ? Date.parse(text) : Number.NaN;
  if (!Number.isFinite(at)) return null;
  return Math.min(Math.max(0, at - now), maxMs);
}
