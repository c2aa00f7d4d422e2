/**
 * The client's bounded queue of session events waiting to be sent, and the preparation of an
 * event before it is queued: long string values are cut to the protocol's limit (marked), so a
 * long tool output costs its tail rather than the whole event. Bounded in events and in
 * characters, since one event may carry 64 KiB values.
 */
import { type AttributeValue, type EventAttributes, MAX_EVENT_ATTRIBUTE_LENGTH, type SessionEvent } from '../protocol/index.js';

/** Appended to a value the client cut to {@link MAX_EVENT_ATTRIBUTE_LENGTH}. */
export const TRUNCATION_MARK = '…[truncated]';

export interface EventBuffer {
  /** Queues an event; returns false (and keeps nothing) when the buffer is full. */
  add(event: SessionEvent): boolean;
  /** Removes and returns up to `max` events, oldest first. */
  take(max: number): SessionEvent[];
  /** Events queued. */
  readonly size: number;
}

const BAGS = ['attributes', 'logOnly', 'traceSafe'] as const;

/** Characters an event holds in keys and string values: what its size in memory and on the wire grows with. */
function weightOf(event: SessionEvent): number {
  let weight = event.name.length + event.sessionId.length + 64;
  for (const bag of BAGS) {
    const attributes = event[bag];
    for (const key in attributes) {
      const value = attributes[key];
      weight += key.length + (typeof value === 'string' ? value.length : 8);
    }
  }
  return weight;
}

export function createEventBuffer(maxEvents: number, maxChars: number): EventBuffer {
  let queue: { event: SessionEvent; weight: number }[] = [];
  let head = 0;
  let chars = 0;
  return {
    add(event) {
      const weight = weightOf(event);
      if (queue.length - head >= maxEvents || chars + weight > maxChars) return false;
      queue.push({ event, weight });
      chars += weight;
      return true;
    },
    take(max) {
      const end = Math.min(queue.length, head + max);
      const taken: SessionEvent[] = [];
      for (let index = head; index < end; index++) {
        const entry = queue[index] as { event: SessionEvent; weight: number };
        chars -= entry.weight;
        taken.push(entry.event);
      }
      head = end;
      if (head === queue.length) {
        queue = [];
        head = 0;
      } else if (head > 1024 && head * 2 > queue.length) {
        queue = queue.slice(head);
        head = 0;
      }
      return taken;
    },
    get size() {
      return queue.length - head;
    },
  };
}

/** `text` cut to `max` characters, the cut marked with {@link TRUNCATION_MARK}; the same string when it fits. */
export function cutText(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - TRUNCATION_MARK.length) + TRUNCATION_MARK;
}

/** The bag with string values longer than the limit cut and marked; the same object when none is. */
function cut(attributes: EventAttributes | undefined): EventAttributes | undefined {
  if (attributes === undefined) return undefined;
  let copy: Record<string, AttributeValue> | undefined;
  for (const key in attributes) {
    const value = attributes[key];
    if (typeof value !== 'string' || value.length <= MAX_EVENT_ATTRIBUTE_LENGTH) continue;
    copy ??= { ...attributes };
    copy[key] = cutText(value, MAX_EVENT_ATTRIBUTE_LENGTH);
  }
  return copy ?? attributes;
}

/** The event with over-long string values cut to the protocol's limit; the same object when none is. */
export function withValuesCut(event: SessionEvent): SessionEvent {
  const attributes = cut(event.attributes);
  const logOnly = cut(event.logOnly);
  const traceSafe = cut(event.traceSafe);
  if (attributes === event.attributes && logOnly === event.logOnly && traceSafe === event.traceSafe) return event;
  return { ...event, ...(attributes === undefined ? {} : { attributes }), ...(logOnly === undefined ? {} : { logOnly }), ...(traceSafe === undefined ? {} : { traceSafe }) };
}
