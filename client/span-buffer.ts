/**
 * The client's bounded queue of ended spans waiting to be sent. Bounded in spans and in
 * characters, since one span may carry 128 attributes of 64 KiB. A span's weight is counted as
 * it is built (see span.ts), so queueing it costs no walk over its attributes.
 */
import type { HostSpan } from '../protocol/index.js';

export interface SpanBuffer {
  /** Queues an ended span of `weight` characters; returns false (and keeps nothing) when the buffer is full. */
  add(span: HostSpan, weight: number): boolean;
  /** Removes and returns up to `max` spans, oldest first. */
  take(max: number): HostSpan[];
  /** Spans queued. */
  readonly size: number;
}

export function createSpanBuffer(maxSpans: number, maxChars: number): SpanBuffer {
  // Two parallel arrays rather than an entry object per span: one allocation fewer on the hot path.
  let spans: HostSpan[] = [];
  let weights: number[] = [];
  let head = 0;
  let chars = 0;
  return {
    add(span, weight) {
      if (spans.length - head >= maxSpans || chars + weight > maxChars) return false;
      spans.push(span);
      weights.push(weight);
      chars += weight;
      return true;
    },
    take(max) {
      const end = Math.min(spans.length, head + max);
      const taken = spans.slice(head, end);
      for (let index = head; index < end; index++) chars -= weights[index] as number;
      head = end;
      if (head === spans.length) {
        spans = [];
        weights = [];
        head = 0;
      } else if (head > 1024 && head * 2 > spans.length) {
        // Drop the sent prefix so a queue that never fully drains does not keep it alive.
        spans = spans.slice(head);
        weights = weights.slice(head);
        head = 0;
      }
      return taken;
    },
    get size() {
      return spans.length - head;
    },
  };
}
