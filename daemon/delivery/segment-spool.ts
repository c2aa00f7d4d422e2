/**
 * Export batches on disk: what a signal's export queue could not send, spilled in order and
 * replayed in order, by this daemon or the next one.
 *
 *   <dir>/<time>-<seq>-1.seg      a segment: "CDXSEG1\n", then per batch
 *                                 [u32 length][u32 crc32][u32 records][f64 created ms][bytes]
 *   <dir>/<time>-<seq>-1.seg.sent how many of its batches have been sent (replay progress)
 *
 * A segment is written to a temporary name, synced, renamed and the folder synced: it is there
 * whole or not at all. Its batches are written from where they are, not copied into one buffer
 * first. A batch whose checksum does not match is skipped and counted. Bounded: past `maxBytes`
 * the oldest segments are deleted and their records counted as dropped.
 *
 * Replay progress is written over itself after every batch sent, in place (the count padded to
 * {@link PROGRESS_WIDTH} bytes, through one descriptor kept open while the segment is replayed),
 * not synced: a process that dies leaves the count it wrote (the kernel holds the file), and only
 * a power cut can take it back to an older one, which sends those batches again, never loses
 * them. Written to a temporary name, synced and renamed, it cost a disk flush and a rename per
 * batch (a 4 MiB segment holds about 70): most of the spool's cost while a collector is slower
 * than what arrives.
 */
import { closeSync, constants, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '../process-alive.js';

/** node:zlib's CRC-32, taken at first use: a daemon that spools nothing does not load zlib. */
const crc32 = (bytes: Uint8Array): number => process.getBuiltinModule('node:zlib').crc32(bytes);

const MAGIC = Buffer.from('CDXSEG1\n');
/** Bytes of a `.sent` file: a count and the spaces after it, so that a shorter count never leaves a longer one's digits. */
const PROGRESS_WIDTH = 16;
const ENTRY_HEADER = 20;

export interface SpooledBatch {
  readonly bytes: Buffer;
  readonly records: number;
  /** When the batch was made (epoch ms), to report the oldest's age. */
  readonly createdAt: number;
}

export interface Segment {
  readonly name: string;
  /** The batches not yet sent, oldest first. */
  readonly batches: SpooledBatch[];
  /** Batches of the segment sent before (by this daemon or an earlier one), and all of them. */
  readonly sent: number;
  readonly total: number;
  /** Batches whose checksum did not match, or that were cut short. */
  readonly corrupt: number;
  /** The records the damaged batches said they held (0 where their header itself is gone). */
  readonly corruptRecords: number;
}

export interface SegmentSpool {
  readonly dir: string;
  /**
   * Writes `batches` as the newest segment, durably. Returns its name and how many batches it
   * holds, how many of the given batches the bound left out (from the front), the records of
   * what the bound made it drop (oldest segments first, then the oldest of these batches), and
   * the names of the segments it dropped.
   */
  append(batches: readonly SpooledBatch[]): { name: string | null; written: number; skipped: number; dropped: number; droppedSegments: string[] };
  /** The oldest segment with what is left of it, or null when the spool is empty. */
  oldest(): Segment | null;
  /** Notes that the first `count` of the segment's `total` batches are sent; all of them removes it. */
  markSent(name: string, count: number, total: number): void;
  bytes(): number;
  segments(): number;
  /** Its queue stopped: holds no progress file open from now on (a late send's progress is still noted). */
  close(): void;
}

function syncFolder(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `parts`, in order, to `path` through a temporary name, synced, and a rename: a reader
 * finds no file or the whole of it.
 */
function writeDurably(path: string, parts: readonly Uint8Array[]): void {
  // The pid in the name: a successor starting while this daemon drains removes only the
  // temporary files of daemons that are gone.
  const temp = `${path}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    let skip = writevSync(fd, parts);
    // Written short (a file size limit, a full disk): the rest goes part by part, and the write
    // that cannot be done throws the error that names why (EFBIG, ENOSPC).
    for (const part of parts) {
      if (skip >= part.length) {
        skip -= part.length;
        continue;
      }
      for (let at = skip; at < part.length; ) at += writeSync(fd, part, at);
      skip = 0;
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

/** Bytes a segment of `batches` takes on disk. */
function segmentBytes(batches: readonly SpooledBatch[]): number {
  let bytes = MAGIC.length;
  for (const batch of batches) bytes += ENTRY_HEADER + batch.bytes.length;
  return bytes;
}

/** A segment of `batches` as the parts it is written from: the batches' own bytes, each after its header. */
function encode(batches: readonly SpooledBatch[]): Buffer[] {
  const parts: Buffer[] = [MAGIC];
  for (const batch of batches) {
    const header = Buffer.alloc(ENTRY_HEADER);
    header.writeUInt32LE(batch.bytes.length, 0);
    header.writeUInt32LE(crc32(batch.bytes), 4);
    header.writeUInt32LE(batch.records, 8);
    header.writeDoubleLE(batch.createdAt, 12);
    parts.push(header, batch.bytes);
  }
  return parts;
}

function decode(content: Buffer): { batches: SpooledBatch[]; corrupt: number; corruptRecords: number } {
  const batches: SpooledBatch[] = [];
  let corrupt = 0;
  let corruptRecords = 0;
  if (!content.subarray(0, MAGIC.length).equals(MAGIC)) return { batches, corrupt: 1, corruptRecords };
  let offset = MAGIC.length;
  while (offset + ENTRY_HEADER <= content.length) {
    const length = content.readUInt32LE(offset);
    const checksum = content.readUInt32LE(offset + 4);
    const records = content.readUInt32LE(offset + 8);
    const createdAt = content.readDoubleLE(offset + 12);
    const start = offset + ENTRY_HEADER;
    if (start + length > content.length) {
      corrupt++;
      corruptRecords += records;
      offset = content.length;
      break;
    }
    const bytes = content.subarray(start, start + length);
    if (crc32(bytes) === checksum) batches.push({ bytes: Buffer.from(bytes), records, createdAt });
    else {
      corrupt++;
      corruptRecords += records;
    }
    offset = start + length;
  }
  // A file cut inside a batch's header.
  if (offset < content.length) corrupt++;
  return { batches, corrupt, corruptRecords };
}

let sequence = 0;

/** How long a listing of the spool folder is taken as current. */
const LISTING_TTL_MS = 1000;

/** Opens (creating it 0700) a signal's spool folder; temporary files of an interrupted write are removed. */
export function openSegmentSpool(dir: string, maxBytes: number): SegmentSpool {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const name of readdirSync(dir)) {
    const owner = /\.(\d+)\.tmp$/.exec(name);
    if (name.endsWith('.tmp') && (owner === null || !isAlive(Number(owner[1])))) rmSync(join(dir, name), { force: true });
  }
  /**
   * The segments, oldest first. The folder is read again at most every {@link LISTING_TTL_MS}
   * (and after this spool's own writes and removals): the export queue asks before every send
   * and every status, and under load that was thousands of folder reads a second. Segments
   * another daemon writes here (a predecessor's, at its stop) are seen within that time.
   */
  let listing: { readonly names: readonly string[]; readonly at: number } | null = null;
  const names = (): readonly string[] => {
    const now = Date.now();
    if (listing === null || now - listing.at >= LISTING_TTL_MS || now < listing.at) {
      listing = {
        names: readdirSync(dir)
          .filter((name) => name.endsWith('.seg'))
          .sort(),
        at: now,
      };
    }
    return listing.names;
  };
  const sizeOf = (name: string): number => {
    try {
      return statSync(join(dir, name)).size;
    } catch {
      return 0;
    }
  };
  let total = names().reduce((sum, name) => sum + sizeOf(name), 0);
  // Read afresh on first use: files may be put there between opening and using the spool.
  listing = null;

  function sentCount(name: string): number {
    const path = join(dir, `${name}.sent`);
    if (!existsSync(path)) return 0;
    const count = Number.parseInt(readFileSync(path, 'utf8'), 10);
    return Number.isSafeInteger(count) && count > 0 ? count : 0;
  }

  /** The `.sent` file of the segment under replay, open for its next count. */
  let progress: { readonly name: string; readonly fd: number } | null = null;
  let closed = false;

  function closeProgress(): void {
    if (progress === null) return;
    closeSync(progress.fd);
    progress = null;
  }

  function remove(name: string): void {
    if (progress?.name === name) closeProgress();
    listing = null;
    total -= sizeOf(name);
    rmSync(join(dir, name), { force: true });
    rmSync(join(dir, `${name}.sent`), { force: true });
  }

  function recordsLeftIn(name: string): number {
    try {
      const { batches } = decode(readFileSync(join(dir, name)));
      return batches.slice(sentCount(name)).reduce((sum, batch) => sum + batch.records, 0);
    } catch {
      return 0;
    }
  }

  return {
    dir,
    append(batches) {
      const droppedSegments: string[] = [];
      if (batches.length === 0) return { name: null, written: 0, skipped: 0, dropped: 0, droppedSegments };
      let dropped = 0;
      const kept = [...batches];
      let size = segmentBytes(kept);
      // Too big even alone: its oldest batches go.
      while (size > maxBytes && kept.length > 0) {
        const oldest = kept.shift() as SpooledBatch;
        dropped += oldest.records;
        size -= ENTRY_HEADER + oldest.bytes.length;
      }
      for (const name of names()) {
        if (total + size <= maxBytes) break;
        dropped += recordsLeftIn(name);
        remove(name);
        droppedSegments.push(name);
      }
      if (kept.length === 0) return { name: null, written: 0, skipped: batches.length, dropped, droppedSegments };
      // Time first (the order), then the pid and a sequence: two daemons never pick one name.
      const name = `${String(Date.now()).padStart(15, '0')}-${String(process.pid).padStart(10, '0')}-${String(sequence++ % 1e6).padStart(6, '0')}-1.seg`;
      writeDurably(join(dir, name), encode(kept));
      syncFolder(dir);
      listing = null;
      total += size;
      return { name, written: kept.length, skipped: batches.length - kept.length, dropped, droppedSegments };
    },
    oldest() {
      for (const name of names()) {
        let content: Buffer;
        try {
          content = readFileSync(join(dir, name));
        } catch {
          continue;
        }
        const { batches, corrupt, corruptRecords } = decode(content);
        const sent = sentCount(name);
        const left = batches.slice(sent);
        if (left.length === 0 && corrupt === 0) {
          remove(name);
          continue;
        }
        return { name, batches: left, sent, total: batches.length, corrupt, corruptRecords };
      }
      return null;
    },
    markSent(name, count, all) {
      if (count >= all) {
        remove(name);
        syncFolder(dir);
        return;
      }
      // A process that dies in the middle of a replay sends nothing already sent again (not synced: see above).
      if (progress?.name !== name) {
        closeProgress();
        // Not truncated on opening: the count an earlier daemon wrote stays until this one writes over it.
        progress = { name, fd: openSync(join(dir, `${name}.sent`), constants.O_WRONLY | constants.O_CREAT, 0o600) };
      }
      writeSync(progress.fd, String(count).padEnd(PROGRESS_WIDTH), 0, 'latin1');
      if (closed) closeProgress();
    },
    bytes: () => total,
    segments: () => names().length,
    close() {
      closed = true;
      closeProgress();
    },
  };
}
