/**
 * The daemon's journal, opened at start: what was accepted and not yet exported or spilled, on
 * disk, replayed first by the next daemon after a crash. An earlier daemon's journal is taken in
 * again here, before anything new, and journaled anew; its files go once the new journal holds
 * it (a crash in between replays it twice, never loses it).
 */
import { existsSync, renameSync } from 'node:fs';
import { join } from 'node:path';

import type { Logger } from 'pino';

import { measurementsIn, type MetricRecord } from '../../protocol/index.js';
import type { DaemonConfig } from '../config.js';
import { type Journal, openJournal } from '../delivery/journal.js';
import { type JournalLine, orphanedJournals, readJournal, removeJournal } from '../delivery/journal-read.js';
import type { LaneChoice, LaneEntry } from '../event-lanes.js';
import { type JournaledEntry, journaledEntry, laneEntryOf } from '../journaled-entry.js';
import type { HostResource } from '../host-resources.js';
import type { LogEntry, SpanEntry } from '../lane-records.js';
import { journaledMetrics } from '../otlp/decode-metrics.js';
import type { DaemonPaths } from '../paths.js';
import type { Pipelines } from '../pipelines.js';

export interface OpenJournalOptions {
  readonly paths: DaemonPaths;
  readonly config: DaemonConfig;
  readonly pipelines: Pipelines;
  readonly logger: Logger;
  readonly reportError: (message: string) => void;
}

/**
 * Longest a replay waits for the lanes to hand their batches on before it puts more records on
 * them: past it, what they cannot take is refused and counted (`queue_full`), as for any sender.
 */
export const REPLAY_LANE_WAIT_MS = 10_000;

/** Opens this daemon's journal, attaches it to the pipelines, and replays every earlier daemon's into them. */
export async function openDaemonJournal(options: OpenJournalOptions): Promise<Journal> {
  const { pipelines } = options;
  const root = join(options.paths.logDir, 'journal');
  const own = join(root, String(process.pid));
  // A folder of a process that had this pid before is an earlier daemon's: kept for the replay.
  if (existsSync(own)) renameSync(own, `${own}.${Date.now()}`);
  const earlier = orphanedJournals(root).map((dir) => ({ dir, ...readJournal(dir) }));
  const journal = openJournal({
    dir: own,
    counts: {
      accepted: (signal) => pipelines.stats[signal].acceptedCount(),
      settled: (signal) => pipelines.stats[signal].settledCount(),
    },
    maxBytes: options.config.delivery.spoolMaxBytes / 4,
    // The journal grows while batches wait: if a queue is failing, what waits in its memory
    // goes to the disk spool, which settles it. A queue that is sending is left alone: there the
    // journal is large because the rate is, and its records settle as fast as they are sent.
    onPressure: () => {
      for (const queue of pipelines.destinations.queues()) if (queue.status().failures > 0) queue.spillNow();
    },
    onError: options.reportError,
    writtenEntry: (entry) => journaledEntry(entry as LaneEntry).journaled,
  });
  pipelines.journal.attach(journal);
  for (const { dir, lines, torn, resources: journaled, contexts } of earlier) {
    const replayed = await replayJournal(
      lines,
      pipelines,
      (id) => {
        // A line names its host's resource by the id it had in the daemon that wrote it.
        const attributes = id === undefined ? undefined : journaled.get(id);
        return attributes === undefined ? pipelines.resources.own : pipelines.resources.exact(attributes as HostResource['attributes']);
      },
      (id) => (id === undefined ? undefined : contexts.get(id)),
      options.reportError,
    );
    // In this daemon's journal first, then the old one goes.
    journal.sync();
    removeJournal(dir);
    if (lines.length > 0 || torn > 0) options.logger.info({ ...replayed, torn, from: dir }, 'replayed the journal of an earlier daemon');
  }
  journal.start();
  return journal;
}

/**
 * Takes in again what an earlier daemon journaled, under the resources it was taken with:
 * metric records, event entries on the lanes that took them, spans and log records taken whole,
 * and metrics taken over OTLP to pass on. A journal can hold more than a lane takes at once (a
 * lane holds 20,000 records; behind a slow collector the export queues hold more, and several
 * daemons' journals replay one after the other): whenever a lane is half full, the replay lets
 * the event loop turn until the lanes have handed their batches to the export queues (which move
 * what exceeds their memory to disk).
 */
export async function replayJournal(
  lines: readonly JournalLine[],
  pipelines: Pipelines,
  resourceOf: (id: number | undefined) => HostResource,
  contextOf: (id: number | undefined) => Readonly<Record<string, unknown>> | undefined = () => undefined,
  onError: (message: string) => void = () => undefined,
): Promise<{ records: number; events: number; spans: number; unreadable: number }> {
  const { stats, metrics, lanes } = pipelines;
  let records = 0;
  let events = 0;
  let spans = 0;
  let unreadable = 0;
  for (const line of lines) {
    if (lanes.crowded()) await handedOn(lanes);
    // A line that parses but is not one this daemon can take in (damaged, or written by hand) is
    // left out and counted: it must not stop the daemon from starting, every time it starts.
    // Each line's records are counted received once taken, so one left out counts nowhere.
    try {
      const resource = resourceOf(line.r);
      if ('m' in line && Array.isArray(line.m)) {
        const batch = line.m as MetricRecord[];
        const measurements = measurementsIn(batch);
        records += metrics.record(batch, (position) => position, [], resource);
        stats.metrics.received(measurements);
      } else if ('e' in line && Array.isArray(line.e)) {
        const [journaled, taken] = line.e as [JournaledEntry, LaneChoice];
        lanes.emit(laneEntryOf(journaled, resource, contextOf(line.c)), taken);
        if (taken.log) stats.logs.received(1);
        if (taken.span) stats.traces.received(1);
        events++;
      } else if ('s' in line) {
        lanes.emitSpan(line.s as SpanEntry, resource);
        stats.traces.received(1);
        spans++;
      } else if ('l' in line) {
        lanes.emitLog(line.l as LogEntry, resource);
        stats.logs.received(1);
        events++;
      } else if ('p' in line) {
        // passOn counts the points it takes: every one of the line's.
        const points = metrics.passOn(journaledMetrics(line.p), resource);
        records += points;
        stats.metrics.received(points);
      }
    } catch (error) {
      if (unreadable++ === 0) onError(`journal: a line could not be taken in again and was left out: ${(error as Error).message}`);
    }
  }
  return { records, events, spans, unreadable };
}

/** Turns the event loop until neither lane is crowded, for {@link REPLAY_LANE_WAIT_MS} at most. */
async function handedOn(lanes: Pipelines['lanes']): Promise<void> {
  const deadline = Date.now() + REPLAY_LANE_WAIT_MS;
  while (lanes.crowded() && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
}
