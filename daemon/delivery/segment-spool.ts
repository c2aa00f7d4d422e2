/**
 * Export batches on disk: what a signal's export queue could not send, spilled in order and
 * replayed in order, by this daemon or the next one.
 *
 *   <dir>/<time>-<seq>-1.seg      a segment: "CDXSEG1\n", then per batch
 *                                 [u32 length][u32 crc32][u32 records][f64 created ms][bytes]
 *   <dir>/<time>-<seq>-1.seg.sent how many of its batches have been sent (replay progress)
 *
 * A segment is written to a temporary name, synced, renamed and the folder synced: it is there
 * whole or not at all. A batch whose checksum does not match is skipped and counted. Bounded:
 * past `maxBytes` the oldest segments are deleted and their records counted as dropped.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isAlive } from '../process-alive.js';

/** node:zlib's CRC-32, taken at first use: a daemon that spools nothing does not load zlib. */
const crc32 = (bytes: Uint8Array): number => process.getBuiltinModule('node:zlib').crc32(bytes);

const MAGIC = Buffer.from('CDXSEG1\n');
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
}

function syncFolder(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function writeDurably(path: string, content: Buffer | string): void {
  // The pid in the name: a successor starting while this daemon drains removes only the
  // temporary files of daemons that are gone.
  const temp = `${path}.${process.pid}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeFileSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
}

function encode(batches: readonly SpooledBatch[]): Buffer {
  const parts: Buffer[] = [MAGIC];
  for (const batch of batches) {
    const header = Buffer.alloc(ENTRY_HEADER);
    header.writeUInt32LE(batch.bytes.length, 0);
    header.writeUInt32LE(crc32(batch.bytes), 4);
    header.writeUInt32LE(batch.records, 8);
    header.writeDoubleLE(batch.createdAt, 12);
    parts.push(header, batch.bytes);
  }
  return Buffer.concat(parts);
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

  function remove(name: string): void {
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
      let kept = [...batches];
      let content = encode(kept);
      // Too big even alone: its oldest batches go.
      while (content.length > maxBytes && kept.length > 0) {
        dropped += (kept.shift() as SpooledBatch).records;
        content = encode(kept);
      }
      for (const name of names()) {
        if (total + content.length <= maxBytes) break;
        dropped += recordsLeftIn(name);
        remove(name);
        droppedSegments.push(name);
      }
      if (kept.length === 0) return { name: null, written: 0, skipped: batches.length, dropped, droppedSegments };
      // Time first (the order), then the pid and a sequence: two daemons never pick one name.
      const name = `${String(Date.now()).padStart(15, '0')}-${String(process.pid).padStart(10, '0')}-${String(sequence++ % 1e6).padStart(6, '0')}-1.seg`;
      writeDurably(join(dir, name), content);
      syncFolder(dir);
      listing = null;
      total += content.length;
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
      // Progress is kept durably: a crash in the middle of a replay re-sends nothing already sent.
      writeDurably(join(dir, `${name}.sent`), String(count));
    },
    bytes: () => total,
    segments: () => names().length,
  };
}
