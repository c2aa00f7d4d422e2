/**
 * One signal's export queue: batches serialised once, sent one at a time, retried with
 * backoff, spilled to disk when memory is short or the daemon stops, and replayed from disk
 * first, in order.
 *
 *   enqueue(bytes) --> memory (bounded) --over the bound--> segment spool (bounded, on disk)
 *                          |                                      |
 *                          +----- sender: spool first, then memory, one batch at a time
 *                                   ok --> exported   retryable --> backoff + jitter (Retry-After/RetryInfo)
 *                                   permanent --> dropped (export_rejected)
 *
 * Accounting: a batch's records stay `buffered` in the signal's counts until it is sent
 * (`exported`) or refused for good (`failed`, `export_rejected`); batches a stop spilled are
 * `spooled`, and batches an earlier daemon spilled are counted apart, as `replayed`.
 */
import { backoffDelayMs, type BackoffPolicy, type QueueStatus, type Signal } from '../../protocol/index.js';
import type { SignalStats } from '../stats.js';
import type { Segment, SegmentSpool, SpooledBatch } from './segment-spool.js';
import type { Sender } from './sender.js';

/** How long a batch may wait in memory while sends keep failing before it is moved to disk. */
export const SPILL_AFTER_FAILING_MS = 30_000;

export interface ExportQueueOptions {
  readonly signal: Signal;
  readonly sender: Sender;
  readonly stats: SignalStats;
  /** `null`: no disk; what does not fit in memory is dropped (counted). */
  readonly spool: SegmentSpool | null;
  /** Bytes of batches held in memory at most. */
  readonly maxMemoryBytes: number;
  readonly retry: BackoffPolicy;
  /** Longest one send may take. */
  readonly sendTimeoutMs: number;
  readonly onError: (message: string) => void;
  /** Told of every write to the spool: `null` when it succeeded, else the error and the records lost with it. */
  readonly onSpoolWrite?: (error: unknown, records: number) => void;
  /** Default {@link SPILL_AFTER_FAILING_MS}. */
  readonly spillAfterFailingMs?: number;
}

export interface ExportQueue {
  /** Takes one serialised batch of `records` records. Never blocks; never throws. */
  enqueue(bytes: Uint8Array, records: number): void;
  /** Sends now, ignoring the backoff, until empty or `timeoutMs`; true when nothing is left. */
  flush(timeoutMs: number): Promise<boolean>;
  /**
   * Tries to send what is queued until `deadline` (epoch ms), stops at the first failure, then
   * spills the rest to disk. A second call returns the first call's promise.
   */
  shutdown(deadline: number): Promise<void>;
  status(): QueueStatus;
  /** Moves every batch waiting in memory to disk (the journal is growing: the collector has been failing a while). */
  spillNow(): void;
  /** Whether anything waits, in memory or on disk. */
  pending(): boolean;
  /**
   * Sends from now on through `sender` (a reload changed the destination): what waits goes
   * there, at once, whatever the backoff said. A send on the wire ends on the old sender; if it
   * fails, the batch goes again through the new one. Resolves when the old sender is no longer
   * in use, within `sendTimeoutMs` of the old settings, so that it can be closed.
   */
  setSender(sender: Sender, sendTimeoutMs: number): Promise<void>;
}

interface Batch extends SpooledBatch {
  /** Set for batches replayed from a segment: where they came from. */
  readonly replayed: boolean;
  readonly segment?: string;
}

export function createExportQueue(options: ExportQueueOptions): ExportQueue {
  const { stats, spool } = options;
  let sender = options.sender;
  let sendTimeoutMs = options.sendTimeoutMs;
  const memory: Batch[] = [];
  let memoryBytes = 0;
  /** The spool segment being replayed, and how many of its batches are sent. */
  let replaying: { segment: Segment; sentNow: number } | null = null;
  let sending = false;
  let failures = 0;
  let nextAttemptAt = 0;
  let lastError: { at: string; message: string } | null = null;
  let timer: NodeJS.Timeout | null = null;
  let stopped = false;
  /** Set when a stop begins: no retry timer may start from then on. */
  let stopping = false;
  /**
   * A batch a spill moved to disk while it was on the wire: it went first in the segment, so
   * the order holds. When its send ends, the segment learns whether it still needs sending.
   */
  let wireSpilled: { batch: Batch; segment: string; written: number } | null = null;
  /** The batch being sent now, if any, and its send. */
  let wire: Batch | null = null;
  let sendOnWire: Promise<unknown> | null = null;
  let shutdownPromise: Promise<void> | null = null;
  let replayedExported = 0;
  let replayedDropped = 0;
  let spooled = 0;
  /** Settles when the pass of sends under way ends. */
  let passing: Promise<boolean> = Promise.resolve(true);

  /** The next batch to send: the spool's oldest first (it is older than anything in memory). */
  function next(): Batch | null {
    if (replaying === null && spool !== null) {
      const segment = spool.oldest();
      if (segment !== null) {
        if (segment.corrupt > 0) {
          options.onError(`${options.signal} spool: ${segment.corrupt} damaged batches in ${segment.name} skipped`);
          stats.dropped('spool_corrupt', segment.corruptRecords);
        }
        replaying = { segment, sentNow: 0 };
        if (segment.batches.length === 0) {
          spool.markSent(segment.name, segment.total, segment.total);
          replaying = null;
          return next();
        }
      }
    }
    if (replaying !== null) {
      const batch = replaying.segment.batches[replaying.sentNow] as SpooledBatch;
      return { ...batch, replayed: true, segment: replaying.segment.name };
    }
    return memory[0] ?? null;
  }

  /** Removes the batch just sent (or refused) from where it came from. */
  function done(batch: Batch): void {
    if (batch.replayed) {
      // The bound may have dropped the segment while this batch was on the wire.
      if (replaying === null || replaying.segment.name !== batch.segment) return;
      replaying.sentNow++;
      const { segment, sentNow } = replaying;
      spool?.markSent(segment.name, segment.sent + sentNow, segment.total);
      if (sentNow >= segment.batches.length) replaying = null;
      return;
    }
    // Only the batch at the head: one a spill moved to disk meanwhile is no longer here.
    if (memory[0] !== batch) return;
    memory.shift();
    memoryBytes -= batch.bytes.length;
  }

  /** Cancels the wait for the next attempt (a flush, a new sender or a stop sends at once). */
  function clearTimer(): void {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  }

  function schedule(): void {
    if (stopped || stopping || sending || timer !== null || next() === null) return;
    const wait = Math.max(0, nextAttemptAt - Date.now());
    timer = setTimeout(() => {
      timer = null;
      void pump();
    }, wait);
    timer.unref();
  }

  /**
   * Sends batches one at a time until the queue is empty, a send fails, or `until` passes;
   * resolves true when nothing is left. A pass already under way is joined, not doubled.
   */
  function pump(until = Infinity): Promise<boolean> {
    if (sending) return passing;
    sending = true;
    passing = pass(until);
    return passing;
  }

  async function pass(until: number): Promise<boolean> {
    try {
      for (let batch = next(); batch !== null && Date.now() < until; batch = next()) {
        wire = batch;
        const using = sender;
        const sent = using.send(batch.bytes, Math.max(1, Math.min(sendTimeoutMs, until - Date.now())));
        sendOnWire = sent;
        const outcome = await sent.finally(() => {
          wire = null;
          sendOnWire = null;
        });
        const spilled = wireSpilled !== null && wireSpilled.batch === batch ? wireSpilled : null;
        if (spilled !== null) {
          // Spilled while on the wire (its records counted as spooled then): sent or refused,
          // its place on disk is marked done; otherwise it waits there, first, in order.
          wireSpilled = null;
          if (outcome.kind !== 'retryable') {
            if (replaying?.segment.name === spilled.segment && replaying.sentNow === 0) {
              replaying.sentNow = 1;
              if (replaying.segment.batches.length <= 1) replaying = null;
            }
            spool?.markSent(spilled.segment, 1, spilled.written);
            if (outcome.kind === 'ok') replayedExported += batch.records;
            else replayedDropped += batch.records;
          }
        }
        // A stop spilled this batch while it was on the wire (as above): nothing more to do.
        if (stopped) return false;
        // The destination changed while this send was on the wire: the new one gets it now.
        if (outcome.kind === 'retryable' && using !== sender) continue;
        if (outcome.kind === 'retryable') {
          failures++;
          lastError = { at: new Date().toISOString(), message: outcome.message };
          nextAttemptAt = Date.now() + backoffDelayMs(failures, options.retry, { retryAfterMs: outcome.retryAfterMs });
          options.onError(`${options.signal} export failed, will retry: ${outcome.message}`);
          // Failing a while: what waits in memory goes to disk, where a crash cannot take it
          // and where it no longer holds the journal.
          const oldest = memory[0];
          if (oldest !== undefined && Date.now() - oldest.createdAt >= (options.spillAfterFailingMs ?? SPILL_AFTER_FAILING_MS)) spill(0);
          return false;
        }
        failures = 0;
        nextAttemptAt = 0;
        if (spilled !== null) continue;
        done(batch);
        if (outcome.kind === 'ok') {
          if (batch.replayed) replayedExported += batch.records;
          else stats.exported(batch.records);
        } else {
          lastError = { at: new Date().toISOString(), message: outcome.message };
          options.onError(`${options.signal} export refused, ${batch.records} records dropped: ${outcome.message}`);
          if (batch.replayed) replayedDropped += batch.records;
          else stats.failed(batch.records, 'export_rejected');
        }
      }
      return next() === null;
    } catch (error) {
      options.onError(`${options.signal} export queue: ${(error as Error).message}`);
      return false;
    } finally {
      sending = false;
      schedule();
    }
  }

  /**
   * Moves the oldest batches in memory to disk until memory is within `limit` bytes.
   */
  function spill(limit: number): void {
    const moved: Batch[] = [];
    let bytes = memoryBytes;
    // The oldest go first, the one on the wire (if any) included: the order on disk is the
    // order they came in, and the journal's count of settled records stays a prefix.
    const onWire = wire !== null && !wire.replayed && memory[0] === wire ? wire : null;
    while (bytes > limit && memory.length > moved.length) {
      const batch = memory[moved.length] as Batch;
      moved.push(batch);
      bytes -= batch.bytes.length;
    }
    if (moved.length === 0) return;
    memory.splice(0, moved.length);
    memoryBytes = bytes;
    const records = moved.reduce((sum, batch) => sum + batch.records, 0);
    if (spool === null) {
      stats.failed(records, 'queue_full');
      return;
    }
    try {
      const { name, written, skipped, dropped, droppedSegments } = spool.append(moved);
      if (onWire !== null && moved[0] === onWire && skipped === 0 && name !== null) wireSpilled = { batch: onWire, segment: name, written };
      // The bound dropped the oldest segments, perhaps the one under replay: let it go.
      if (replaying !== null && droppedSegments.includes((replaying as { segment: Segment }).segment.name)) replaying = null;
      // Spilled records are out of this daemon's hands: a later replay sends them.
      // The bound may drop older spilled records (this daemon's or an earlier one's): counted as
      // dropped, apart from the balance of this daemon's accepted records.
      stats.spooled(records);
      if (dropped > 0) stats.dropped('spool_full', dropped);
      spooled += records;
      if (dropped > 0) options.onError(`${options.signal} spool full: the oldest ${dropped} records were dropped`);
      options.onSpoolWrite?.(null, records);
    } catch (error) {
      stats.failed(records, 'spool_failed');
      options.onSpoolWrite?.(error, records);
      options.onError(`${options.signal} spool write failed, ${records} records lost: ${(error as Error).message}`);
    }
  }

  schedule();

  return {
    enqueue(bytes, records) {
      if (stopped) {
        stats.failed(records, 'shutdown_deadline');
        return;
      }
      const batch: Batch = { bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), records, createdAt: Date.now(), replayed: false };
      memory.push(batch);
      memoryBytes += batch.bytes.length;
      if (memoryBytes > options.maxMemoryBytes) spill(options.maxMemoryBytes / 2);
      schedule();
    },
    async flush(timeoutMs) {
      const until = Date.now() + timeoutMs;
      nextAttemptAt = 0;
      clearTimer();
      // A pass under way finishes first; then one pass now, which stops at a failure.
      if (sending) await Promise.race([passing, new Promise((resolve) => setTimeout(resolve, Math.max(0, until - Date.now())).unref())]);
      if (next() === null) return true;
      // Out of time, or a send still on the wire (the timer may fire a moment before `until`
      // by the clock): joining that pass could wait for as long as the send hangs.
      if (Date.now() >= until || sending) {
        // The retry timer this flush cleared must run again.
        schedule();
        return false;
      }
      return pump(until);
    },
    shutdown(deadline) {
      shutdownPromise ??= (async () => {
        stopping = true;
        clearTimer();
        // One pass within the deadline, whatever the backoff said; then whatever is left goes
        // to disk, so a stop never loses what was accepted and never waits on a collector. A
        // send still on the wire at the deadline is spilled too: if the collector took it after
        // all, the next daemon sends it again (at least once, never lost).
        const bounded = (work: Promise<unknown>): Promise<unknown> => Promise.race([work, new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())).unref())]);
        if (sending) await bounded(passing);
        nextAttemptAt = 0;
        if (!sending && Date.now() < deadline) await bounded(pump(deadline));
        stopped = true;
        spill(0);
      })();
      return shutdownPromise;
    },
    status() {
      return {
        memoryBatches: memory.length,
        memoryBytes,
        spooledSegments: spool?.segments() ?? 0,
        spooledBytes: spool?.bytes() ?? 0,
        oldestAgeMs: memory[0] === undefined ? null : Date.now() - memory[0].createdAt,
        failures,
        nextAttemptAt: failures > 0 && nextAttemptAt > 0 ? new Date(nextAttemptAt).toISOString() : null,
        lastError,
        replayed: { exported: replayedExported, dropped: replayedDropped },
        spooled,
      };
    },
    spillNow: () => spill(0),
    async setSender(next, nextTimeoutMs) {
      sender = next;
      sendTimeoutMs = nextTimeoutMs;
      failures = 0;
      nextAttemptAt = 0;
      clearTimer();
      const inUse = sendOnWire;
      schedule();
      if (inUse !== null) await inUse.catch(() => undefined);
    },
    pending: () => memory.length > 0 || replaying !== null || (spool?.segments() ?? 0) > 0,
  };
}
