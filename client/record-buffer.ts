/**
 * The client's bounded buffer of records waiting to be sent. While they wait, identical counter
 * increments (same name, same tags in the same order) are summed into one record, and
 * histogram observations with the same name and tags are gathered into one record's `values`
 * array: what an OpenTelemetry SDK would aggregate anyway, at a fraction of the bytes and of
 * the daemon's parsing. Gauges are kept one record per call.
 *
 * Counters and histograms are found through a trie of Maps keyed by the name, then each tag key
 * and value in turn: a repeated call costs a few Map lookups on strings whose hashes V8 has
 * cached, and needs no validation, since an entry exists only for a name and tags that were
 * validated when it was created. The bound is on measurements: each histogram value counts.
 */
import type { MetricKind, MetricRecord } from '../protocol/index.js';

interface Entry {
  record: { name: string; kind: MetricKind; value?: number; values?: number[]; tags?: Record<string, string>; sessionId?: string };
  /** The trie node holding this entry (counters and histograms), cleared when it is taken. */
  node: TrieNode | undefined;
}

interface TrieNode {
  entry: Entry | undefined;
  /** tag key -> tag value -> node */
  next: Map<string, Map<string, TrieNode>> | undefined;
}

export interface RecordBuffer {
  /**
   * Adds to the buffered counter or histogram with this name and tags, if there is one. Returns
   * false when there is none (or the buffer is full); the caller then validates and calls {@link add}.
   */
  addToExisting(kind: MetricKind, name: string, value: number, tags: Readonly<Record<string, string>> | undefined, sessionId?: string): boolean;
  /** Adds a measurement; returns false (and keeps nothing) when the buffer is full. */
  add(kind: MetricKind, name: string, value: number, tags: Readonly<Record<string, string>> | undefined, sessionId?: string): boolean;
  /** Removes and returns records holding up to `max` measurements, oldest first. */
  take(max: number): MetricRecord[];
  /** Measurements buffered. */
  readonly size: number;
}

/** The trie's root key: the name, or the session and the name (a session's records are kept apart). */
function rootKey(name: string, sessionId: string | undefined): string {
  return sessionId === undefined ? name : `${sessionId}\u0000${name}`;
}

function find(roots: Map<string, TrieNode>, key: string, tags: Readonly<Record<string, string>> | undefined, create: boolean): TrieNode | undefined {
  let node: TrieNode | undefined = roots.get(key);
  if (node === undefined) {
    if (!create) return undefined;
    node = { entry: undefined, next: undefined };
    roots.set(key, node);
  }
  if (tags === undefined) return node;
  for (const key in tags) {
    const value = tags[key] as string;
    let byValue: Map<string, TrieNode> | undefined = node.next?.get(key);
    if (byValue === undefined) {
      if (!create) return undefined;
      node.next ??= new Map();
      byValue = new Map();
      node.next.set(key, byValue);
    }
    let child: TrieNode | undefined = byValue.get(value);
    if (child === undefined) {
      if (!create) return undefined;
      child = { entry: undefined, next: undefined };
      byValue.set(value, child);
    }
    node = child;
  }
  return node;
}

export function createRecordBuffer(maxMeasurements: number): RecordBuffer {
  let entries: Entry[] = [];
  let head = 0;
  let size = 0;
  // Separate tries: a counter and a histogram may not share a name, but the daemon decides that.
  let counters = new Map<string, TrieNode>();
  let histograms = new Map<string, TrieNode>();

  function addTo(entry: Entry, value: number): boolean {
    if (entry.record.values !== undefined) {
      if (size >= maxMeasurements) return false;
      entry.record.values.push(value);
      size++;
    } else entry.record.value = (entry.record.value as number) + value;
    return true;
  }

  return {
    get size() {
      return size;
    },
    addToExisting(kind, name, value, tags, sessionId) {
      const roots = kind === 'counter' ? counters : kind === 'histogram' ? histograms : undefined;
      const entry = roots === undefined ? undefined : find(roots, rootKey(name, sessionId), tags, false)?.entry;
      return entry !== undefined && addTo(entry, value);
    },
    add(kind, name, value, tags, sessionId) {
      const roots = kind === 'counter' ? counters : kind === 'histogram' ? histograms : undefined;
      const node = roots === undefined ? undefined : (find(roots, rootKey(name, sessionId), tags, true) as TrieNode);
      if (node?.entry !== undefined) return addTo(node.entry, value);
      if (size >= maxMeasurements) return false;
      // The tags are copied so a host that reuses and mutates its object cannot change what was recorded.
      const copy = tags === undefined ? undefined : { ...tags };
      const record: Entry['record'] = kind === 'histogram' ? { name, kind, values: [value] } : { name, kind, value };
      if (copy !== undefined) record.tags = copy;
      if (sessionId !== undefined) record.sessionId = sessionId;
      const entry: Entry = { record, node };
      if (node !== undefined) node.entry = entry;
      entries.push(entry);
      size++;
      return true;
    },
    take(max) {
      const taken: MetricRecord[] = [];
      let room = max;
      while (head < entries.length && room > 0) {
        const entry = entries[head] as Entry;
        const values = entry.record.values;
        if (values !== undefined && values.length > room) {
          // Too many observations for this batch: send the oldest now, keep the rest in place.
          taken.push({ ...entry.record, values: values.splice(0, room) });
          size -= room;
          room = 0;
          break;
        }
        const count = values?.length ?? 1;
        if (entry.node !== undefined) entry.node.entry = undefined;
        taken.push(entry.record);
        size -= count;
        room -= count;
        head++;
      }
      if (head === entries.length) {
        entries = [];
        head = 0;
        // Nothing is buffered: drop the tries too, so tag sets seen once do not stay forever.
        counters = new Map();
        histograms = new Map();
      } else if (head > 1024 && head * 2 > entries.length) {
        // Drop the sent prefix so a buffer that never fully drains does not keep it alive.
        entries = entries.slice(head);
        head = 0;
      }
      return taken;
    },
  };
}
