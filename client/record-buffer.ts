/**
 * The client's bounded buffer of records waiting to be sent. Identical counter increments
 * (same name, same tags in the same order) are summed into one record while they wait, which
 * is what an OpenTelemetry SDK would do at collection anyway; histograms and gauges are kept
 * one record per call.
 *
 * Counters are found through a trie of Maps keyed by the name, then each tag key and value in
 * turn: a repeated increment costs a few Map lookups on strings whose hashes V8 has cached,
 * and allocates nothing. It also means an increment that finds its entry needs no validation:
 * the entry exists only for a name and tags that were validated when it was created.
 */
import type { MetricKind, MetricRecord } from '../protocol/index.js';

interface Entry {
  record: { name: string; kind: MetricKind; value: number; tags?: Record<string, string> };
  /** The trie node holding this counter entry, cleared when the entry is taken. */
  node: TrieNode | undefined;
}

interface TrieNode {
  entry: Entry | undefined;
  /** tag key -> tag value -> node */
  next: Map<string, Map<string, TrieNode>> | undefined;
}

export interface RecordBuffer {
  /**
   * Adds `value` to the buffered counter with this name and tags, if there is one. Returns
   * false when there is none; the caller then validates and calls {@link add}.
   */
  addToCounter(name: string, value: number, tags: Readonly<Record<string, string>> | undefined): boolean;
  /** Adds a record (summing a counter into its buffered twin); returns false (and keeps nothing) when the buffer is full. */
  add(kind: MetricKind, name: string, value: number, tags: Readonly<Record<string, string>> | undefined): boolean;
  /** Removes and returns up to `max` records, oldest first. */
  take(max: number): MetricRecord[];
  readonly size: number;
}

function find(roots: Map<string, TrieNode>, name: string, tags: Readonly<Record<string, string>> | undefined, create: boolean): TrieNode | undefined {
  let node: TrieNode | undefined = roots.get(name);
  if (node === undefined) {
    if (!create) return undefined;
    node = { entry: undefined, next: undefined };
    roots.set(name, node);
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

export function createRecordBuffer(maxRecords: number): RecordBuffer {
  let entries: Entry[] = [];
  let head = 0;
  let counters = new Map<string, TrieNode>();

  return {
    get size() {
      return entries.length - head;
    },
    addToCounter(name, value, tags) {
      const entry = find(counters, name, tags, false)?.entry;
      if (entry === undefined) return false;
      entry.record.value += value;
      return true;
    },
    add(kind, name, value, tags) {
      const node = kind === 'counter' ? (find(counters, name, tags, true) as TrieNode) : undefined;
      if (node?.entry !== undefined) {
        node.entry.record.value += value;
        return true;
      }
      if (entries.length - head >= maxRecords) return false;
      // The tags are copied so a host that reuses and mutates its object cannot change what was recorded.
      const record = tags === undefined ? { name, kind, value } : { name, kind, value, tags: { ...tags } };
      const entry: Entry = { record, node };
      if (node !== undefined) node.entry = entry;
      entries.push(entry);
      return true;
    },
    take(max) {
      const end = Math.min(entries.length, head + max);
      const taken: MetricRecord[] = new Array<MetricRecord>(end - head);
      for (let index = head; index < end; index++) {
        const entry = entries[index] as Entry;
        if (entry.node !== undefined) entry.node.entry = undefined;
        taken[index - head] = entry.record;
      }
      head = end;
      if (head === entries.length) {
        entries = [];
        head = 0;
        // Nothing is buffered: drop the trie too, so tag sets seen once do not stay forever.
        counters = new Map();
      } else if (head > 1024 && head * 2 > entries.length) {
        // Drop the sent prefix so a buffer that never fully drains does not keep it alive.
        entries = entries.slice(head);
        head = 0;
      }
      return taken;
    },
  };
}
