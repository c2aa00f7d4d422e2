/**
 * The memory stage of an export queue: serialised batches in the order they came, bounded in
 * bytes. Past the bound, or when asked, the oldest batches move to the segment spool (or, with
 * no spool, are dropped and counted), so that what is on disk is always older than what is here.
 *
 *   add(batch) --> [oldest ... newest] --over maxBytes: spill to maxBytes / 2--> segment spool
 *                        \--spill(0): everything (a stop, a journal under pressure)--^
 */
import type { Signal } from '../../protocol/index.js';
import type { SignalStats } from '../stats.js';
import type { SegmentSpool, SpooledBatch } from './segment-spool.js';

/** A batch as an export queue sends it: from memory, or replayed from a spool segment. */
export interface QueuedBatch extends SpooledBatch {
  readonly replayed: boolean;
  /** Set for batches replayed from a segment: where they came from. */
  readonly segment?: string;
}

/** One spill that reached the spool: what moved, where it went, and what the spool's bound dropped for it. */
export interface Spill {
  /** The batches moved, oldest first. */
  readonly moved: readonly QueuedBatch[];
  /** The segment written (null when the bound left every batch out), and how many batches it holds. */
  readonly segment: string | null;
  readonly written: number;
  /** Batches of `moved` the bound left out, from the front. */
  readonly skipped: number;
  /** Older segments the bound deleted to make room. */
  readonly droppedSegments: readonly string[];
}

export interface MemoryBufferOptions {
  readonly signal: Signal;
  /** Bytes of batches held at most; a batch that takes the buffer past it spills down to half. */
  readonly maxBytes: number;
  /** `null`: no disk; what a spill moves is dropped (counted as `queue_full`). */
  readonly spool: SegmentSpool | null;
  readonly stats: SignalStats;
  readonly onError: (message: string) => void;
  /** Told of every write to the spool: `null` when it succeeded, else the error and the records lost with it. */
  readonly onSpoolWrite?: (error: unknown, records: number) => void;
  /** Told of each spill the spool took, before it is counted. */
  readonly onSpilled: (spill: Spill) => void;
}

export interface MemoryBuffer {
  /** Appends one batch (the bytes are kept, not copied); spills the oldest past the bound. */
  add(bytes: Uint8Array, records: number): void;
  /** The oldest batch, or null. */
  oldest(): QueuedBatch | null;
  /** Removes `batch` if it is still the oldest: a spill may have moved it to disk meanwhile. */
  removeOldest(batch: QueuedBatch): void;
  /** Moves the oldest batches to the spool until at most `limitBytes` remain. */
  spill(limitBytes: number): void;
  batches(): number;
  bytes(): number;
  /** Records moved to the spool so far. */
  spooledRecords(): number;
}

export function createMemoryBuffer(options: MemoryBufferOptions): MemoryBuffer {
  const { stats, spool } = options;
  const memory: QueuedBatch[] = [];
  let memoryBytes = 0;
  let spooled = 0;

  function writeToSpool(moved: QueuedBatch[], records: number, to: SegmentSpool): void {
    try {
      const { name, written, skipped, dropped, droppedSegments } = to.append(moved);
      options.onSpilled({ moved, segment: name, written, skipped, droppedSegments });
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

  function spill(limitBytes: number): void {
    // The oldest go first, one being sent included: the order on disk is the order they came
    // in, and the journal's count of settled records stays a prefix.
    let count = 0;
    let bytes = memoryBytes;
    while (bytes > limitBytes && count < memory.length) bytes -= (memory[count++] as QueuedBatch).bytes.length;
    if (count === 0) return;
    const moved = memory.splice(0, count);
    memoryBytes = bytes;
    const records = moved.reduce((sum, batch) => sum + batch.records, 0);
    if (spool === null) stats.failed(records, 'queue_full');
    else writeToSpool(moved, records, spool);
  }

  return {
    add(bytes, records) {
      const batch: QueuedBatch = { bytes: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), records, createdAt: Date.now(), replayed: false };
      memory.push(batch);
      memoryBytes += batch.bytes.length;
      if (memoryBytes > options.maxBytes) spill(options.maxBytes / 2);
    },
    oldest: () => memory[0] ?? null,
    removeOldest(batch) {
      if (memory[0] !== batch) return;
      memory.shift();
      memoryBytes -= batch.bytes.length;
    },
    spill,
    batches: () => memory.length,
    bytes: () => memoryBytes,
    spooledRecords: () => spooled,
  };
}
