/**
 * Ingests the hand-off files hosts leave in the socket's folder when they exit before their
 * records reached the daemon (the daemon was still starting, or the socket could not take the
 * rest in time). Scanned at start, then whenever the folder changes (a file watch on it and on
 * the socket's folder, where it is made), and once a minute in case a change went unseen; every
 * second while files wait (a backlog, the memory limiter holding) or where no file watch works.
 * Each file is ingested like a `metric/record` batch and removed.
 */
import { existsSync, type FSWatcher, readdirSync, unlinkSync, watch } from 'node:fs';
import { basename, dirname, join } from 'node:path';

import type { Logger } from 'pino';

import { batchEnd, checkHandoff, type HandoffCounts, MAX_BATCH_EVENTS, MAX_BATCH_RECORDS, MAX_BATCH_SPANS, MAX_MESSAGE_BYTES } from '../protocol/index.js';
import type { EventIngest } from './event-ingest.js';
import { handoffFolderProblem, readHandoffFile, setAside } from './handoff-files.js';
import type { HostResources } from './host-resources.js';
import type { MemoryGate } from './memory-limiter.js';
import type { IngestOutcome, MetricIngest } from './metric-ingest.js';
import type { SessionRegistry } from './session-registry.js';
import type { SpanIngest } from './span-ingest.js';

/** How often the folder is scanned while files wait, or when the folder cannot be watched. */
export const HANDOFF_SCAN_MS = 1000;
/** How often it is scanned anyway while watched: a change the watch missed waits at most this. */
export const HANDOFF_SAFETY_SCAN_MS = 60_000;
/** Largest hand-off file read: a host hands over at most its bounded buffers. */
const MAX_HANDOFF_FILE_BYTES = MAX_MESSAGE_BYTES * 2;
/** Files ingested per scan, so a backlog cannot stall the event loop. */
const FILES_PER_SCAN = 64;

export interface HandoffIngest {
  /** Ingests what is waiting now; returns how many files are left for later scans. */
  scan(): number;
  counts(): HandoffCounts;
  /** When a file was last taken in (epoch ms), 0 before the first: hosts handing files over keep a daemon in use. */
  lastIngestAt(): number;
  stop(): void;
}

export interface HandoffIngestOptions {
  readonly dir: string;
  /** Where the records go, counted and observed as a connection's are. */
  readonly metricIngest: MetricIngest;
  readonly sessions: SessionRegistry;
  readonly events: EventIngest;
  readonly spans: SpanIngest;
  readonly resources: HostResources;
  /** While it holds, files wait: reading them would add to what the daemon holds. */
  readonly memory: MemoryGate;
  readonly logger: Logger;
}

/**
 * Ingests a hand-off file's list in batches of at most `max`, `dropped` riding the first (alone,
 * when the list is empty). Returns the items received; throws when a batch is refused whole.
 */
function inBatches(items: readonly unknown[], max: number, dropped: unknown, ingest: (batch: unknown[], dropped: { dropped?: unknown }) => IngestOutcome): number {
  let received = 0;
  for (let start = 0; start < items.length || (start === 0 && dropped !== undefined); start += max) {
    const outcome = ingest(items.slice(start, start + max), start === 0 && dropped !== undefined ? { dropped } : {});
    if (!outcome.ok) throw new Error(outcome.message);
    received += outcome.received;
  }
  return received;
}

export function startHandoffIngest(options: HandoffIngestOptions): HandoffIngest {
  const { dir, metricIngest, sessions, events, spans, resources, logger } = options;
  let filesIngested = 0;
  let recordsIngested = 0;
  let eventsIngested = 0;
  let spansIngested = 0;
  let filesRejected = 0;
  let lastIngestAt = 0;
  const refused = new Map<string, number>();
  /** The folder's last problem, logged and counted once until it changes. */
  let folderProblem: string | null = null;

  /** Counts an entry that was not read, logs it (by name and reason only), and sets it aside. */
  function refuse(path: string, reason: string): void {
    refused.set(reason, (refused.get(reason) ?? 0) + 1);
    logger.warn({ file: path, reason }, 'hand-off entry not read; set aside');
    setAside(path);
  }

  function ingestFile(path: string): void {
    const read = readHandoffFile(path, MAX_HANDOFF_FILE_BYTES);
    if (!read.ok) {
      if (read.reason !== 'gone') refuse(path, read.reason);
      return;
    }
    try {
      let parsed: unknown;
      try {
        parsed = JSON.parse(read.text);
      } catch {
        // The parser's message quotes the text: say only that it is not JSON.
        throw new Error('not valid JSON');
      }
      // Checked before anything is ingested, so a file is taken in whole or not at all.
      const checked = checkHandoff(parsed);
      if (!checked.ok) throw new Error(checked.message);
      const content = checked.value;
      // The host's live sessions come with its records: once the file passed its checks, they
      // are registered before anything else, so the records are tagged.
      for (const session of content.sessions) sessions.start(session);
      // The daemon may have restarted since the host's sessions began: keep their records, untagged.
      const source = {
        sessions,
        clientName: content.clientInfo?.name ?? null,
        unknownSession: 'untagged',
        resource: resources.forHost(content.clientInfo, content.resource),
      } as const;
      // A host hands over its whole buffer, which may hold more than one batch may: ingest it
      // in batches of at most MAX_BATCH_RECORDS measurements, splitting a values array that
      // alone is larger.
      const all: unknown[] = content.records.flatMap((record: unknown) => {
        const values = typeof record === 'object' && record !== null ? (record as { values?: unknown }).values : undefined;
        if (!Array.isArray(values) || values.length <= MAX_BATCH_RECORDS) return [record];
        const parts: unknown[] = [];
        for (let at = 0; at < values.length; at += MAX_BATCH_RECORDS) parts.push({ ...(record as object), values: values.slice(at, at + MAX_BATCH_RECORDS) });
        return parts;
      });
      let first = true;
      for (let start = 0; first || start < all.length; first = false) {
        const end = batchEnd(all, start, MAX_BATCH_RECORDS);
        const outcome = metricIngest.ingest({ records: all.slice(start, end), ...(first && content.dropped !== undefined ? { dropped: content.dropped } : {}) }, source);
        if (!outcome.ok) throw new Error(outcome.message);
        recordsIngested += outcome.received;
        start = end;
      }
      // Then events, then spans, each as batches the protocol allows; the host's drop counts ride the first.
      eventsIngested += inBatches(content.events, MAX_BATCH_EVENTS, content.eventsDropped, (batch, dropped) => events.ingest({ events: batch, ...dropped }, source));
      spansIngested += inBatches(content.spans, MAX_BATCH_SPANS, content.spansDropped, (batch, dropped) => spans.ingest({ spans: batch, ...dropped }, source));
      filesIngested++;
      lastIngestAt = Date.now();
    } catch (error) {
      filesRejected++;
      logger.warn({ file: path, problem: (error as Error).message }, 'hand-off file rejected');
    }
    try {
      unlinkSync(path);
    } catch {
      // Removed by another scan.
    }
  }

  /** Ingests up to FILES_PER_SCAN files; returns how many are left (all of them while memory holds). */
  function scan(): number {
    const problem = handoffFolderProblem(dir);
    if (problem === 'missing') return 0;
    if (problem !== null) {
      // Never read or delete anything in a folder someone else could have put there.
      if (problem !== folderProblem) {
        refused.set('folder_unsafe', (refused.get('folder_unsafe') ?? 0) + 1);
        logger.error({ dir, problem }, 'hand-off folder not scanned');
      }
      folderProblem = problem;
      return 0;
    }
    folderProblem = null;
    let names: string[];
    try {
      // Temporary files (".name.tmp") are still being written by their host.
      names = readdirSync(dir).filter((name) => name.endsWith('.json') && !name.startsWith('.'));
    } catch {
      return 0;
    }
    // Only files are telemetry arriving: an empty folder leaves the memory limiter's quiet time be.
    if (names.length === 0) return 0;
    if (options.memory.holding()) return names.length;
    names.sort();
    for (const name of names.slice(0, FILES_PER_SCAN)) ingestFile(join(dir, name));
    return Math.max(0, names.length - FILES_PER_SCAN);
  }

  // Watched: a scan soon after the folder (or its parent, where hosts make it) changes.
  const watchers = new Map<string, FSWatcher>();
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let soon: NodeJS.Timeout | null = null;
  /** Scans; and polls every second while files are left or the daemon is not reading. */
  function scanAndPlan(): void {
    soon = null;
    if (stopped) return;
    const left = scan();
    schedule(left > 0 || !watched() ? HANDOFF_SCAN_MS : HANDOFF_SAFETY_SCAN_MS);
  }
  /** Whether a change would be seen: the parent is watched, and the folder too once it exists. */
  function watched(): boolean {
    return watchers.has(dirname(dir)) && (watchers.has(dir) || !existsSync(dir));
  }
  function schedule(ms: number): void {
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(scanAndPlan, ms);
    timer.unref();
  }
  function scanSoon(): void {
    watchFolder(dir);
    if (soon === null && !stopped) {
      // A few changes in a row (a temporary file, then its rename) make one scan.
      soon = setTimeout(scanAndPlan, 10);
      soon.unref();
    }
  }
  function watchFolder(path: string): void {
    if (watchers.has(path) || stopped) return;
    try {
      const watcher = watch(path, { persistent: false }, (_event, name) => {
        if (path !== dir && name !== null && name !== basename(dir)) return;
        // The folder itself came, went or was replaced: watch what is there now.
        if (path !== dir) unwatch(dir);
        scanSoon();
      });
      watcher.on('error', () => unwatch(path));
      watchers.set(path, watcher);
    } catch {
      // Not there yet (the hand-off folder, until a host makes it), or no file watch here:
      // the poll covers it.
    }
  }
  function unwatch(path: string): void {
    watchers.get(path)?.close();
    watchers.delete(path);
  }
  watchFolder(dirname(dir));
  watchFolder(dir);
  schedule(watched() ? HANDOFF_SAFETY_SCAN_MS : HANDOFF_SCAN_MS);
  return {
    scan,
    lastIngestAt: () => lastIngestAt,
    counts: () => ({ filesIngested, recordsIngested, eventsIngested, spansIngested, filesRejected, refused: Object.fromEntries(refused) }),
    stop() {
      stopped = true;
      if (timer !== null) clearTimeout(timer);
      if (soon !== null) clearTimeout(soon);
      for (const watcher of watchers.values()) watcher.close();
      watchers.clear();
    },
  };
}
