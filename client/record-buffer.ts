/**
 * The client's bounded buffer of records waiting to be sent. Identical counter increments
 * (same name, same tags in the same order) are summed into one record while they wait, which
 * is what an OpenTelemetry SDK would do at collection anyway; histograms and gauges are kept
 * one record per call.
 */
import type { MetricKind, MetricRecord } from '../protocol/index.js';

interface Entry {
  record: { name: string; kind: MetricKind; value: number; tags?: Record<string, string> };
  /** Summation key for counters, `undefined` for other kinds. */
  key: string | undefined;
}

export interface RecordBuffer {
  /** Adds a record; returns false (and keeps nothing) when the buffer is full. */
  add(kind: MetricKind, name: string, value: number, tags: Readonly<Record<string, string>> | undefined): boolean;
  /** Removes and returns up to `max` records, oldest first. */
  take(max: number): MetricRecord[];
  readonly size: number;
}

function summationKey(name: string, tags: Readonly<Record<string, string>> | undefined): string {
  if (tags === undefined) return name;
  let key = name;
  for (const tag in tags) key += `\u0000${tag}\u0001${tags[tag]}`;
  return key;
}

export function createRecordBuffer(maxRecords: number): RecordBuffer {
  let entries: Entry[] = [];
  let head = 0;
  const counters = new Map<string, Entry>();

  return {
    get size() {
      return entries.length - head;
    },
    add(kind, name, value, tags) {
      let key: string | undefined;
      if (kind === 'counter') {
        key = summationKey(name, tags);
        const existing = counters.get(key);
        if (existing !== undefined) {
          existing.record.value += value;
          return true;
        }
      }
      if (entries.length - head >= maxRecords) return false;
      // The tags are copied so a host that reuses and mutates its object cannot change what was recorded.
      const entry: Entry = { record: tags === undefined ? { name, kind, value } : { name, kind, value, tags: { ...tags } }, key };
      entries.push(entry);
      if (key !== undefined) counters.set(key, entry);
      return true;
    },
    take(max) {
      const end = Math.min(entries.length, head + max);
      const taken: MetricRecord[] = new Array<MetricRecord>(end - head);
      for (let index = head; index < end; index++) {
        const entry = entries[index] as Entry;
        if (entry.key !== undefined) counters.delete(entry.key);
        taken[index - head] = entry.record;
      }
      head = end;
      if (head === entries.length) {
        entries = [];
        head = 0;
      } else if (head > 1024 && head * 2 > entries.length) {
        // Drop the sent prefix so a buffer that never fully drains does not keep it alive.
        entries = entries.slice(head);
        head = 0;
      }
      return taken;
    },
  };
}
