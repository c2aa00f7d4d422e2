/**
 * W3C trace and span ids, minted in the client (https://www.w3.org/TR/trace-context/#trace-id):
 * random, lowercase hex, never all zero. The random bytes are drawn a pool at a time, so a span
 * costs a slice of a buffer. They come from `Math.random`, as OpenTelemetry JS's own id
 * generator's do: ids must be unlikely to collide, not unguessable, and loading node:crypto
 * costs a short-lived host about 6 ms at its first span. (`Buffer` is Node's global.)
 */
/** Random bytes drawn at once: 4 KiB is 170 root spans (24 bytes) or 512 child spans (8 bytes). */
const POOL_BYTES = 4096;
const TRACE_ID_BYTES = 16;
const SPAN_ID_BYTES = 8;
const ZERO_TRACE = '0'.repeat(TRACE_ID_BYTES * 2);
const ZERO_SPAN = '0'.repeat(SPAN_ID_BYTES * 2);

let pool: Buffer | null = null;
let offset = POOL_BYTES;

/** Hex of the next `bytes` random bytes of the pool, refilled when spent. */
function randomHex(bytes: number): string {
  if (offset + bytes > POOL_BYTES) {
    pool ??= Buffer.allocUnsafeSlow(POOL_BYTES);
    for (let at = 0; at < POOL_BYTES; at += 4) pool.writeUInt32BE((Math.random() * 2 ** 32) >>> 0, at);
    offset = 0;
  }
  const hex = (pool as Buffer).toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}

/** A new trace id: 32 lowercase hex digits, not all zero. */
export function newTraceId(): string {
  let id = randomHex(TRACE_ID_BYTES);
  // W3C makes an all-zero id invalid; drawing one has odds of 2^-128, but the rule is the rule.
  while (id === ZERO_TRACE) id = randomHex(TRACE_ID_BYTES);
  return id;
}

/** A new span id: 16 lowercase hex digits, not all zero. */
export function newSpanId(): string {
  let id = randomHex(SPAN_ID_BYTES);
  while (id === ZERO_SPAN) id = randomHex(SPAN_ID_BYTES);
  return id;
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

/**
 * True when both ids are W3C-valid. For ids a host passes in (a parent or link given as a span
 * context object); ids this module minted are never checked again.
 */
export function areValidIds(traceId: unknown, spanId: unknown): boolean {
  return typeof traceId === 'string' && typeof spanId === 'string' && TRACE_ID.test(traceId) && SPAN_ID.test(spanId) && traceId !== ZERO_TRACE && spanId !== ZERO_SPAN;
}

/** The `traceparent` header value (version 00) of a span. */
export function formatTraceparent(traceId: string, spanId: string, flags: number): string {
  return `00-${traceId}-${spanId}-${flags < 16 ? '0' : ''}${flags.toString(16)}`;
}
