/**
 * The journal's file format (`<ms>-<seq>.jnz`): its JSON lines in frames, one frame a write,
 * and export requests an export queue holds, a frame each.
 *
 *   frame = kind (1 byte) | length (4 bytes, big-endian) | payload
 *   kind 0: the payload is the lines as they are (UTF-8)
 *   kind 1: the payload is the lines compressed with raw deflate, the file's previous
 *           {@link DICTIONARY_BYTES} of lines (as they are) the dictionary
 *   kind 2: the payload is one export request of the log or the trace lane: its signal (1 byte:
 *           1 logs, 2 traces), its wire format (1 byte: 0 OTLP protobuf, 1 OTLP JSON), where its
 *           records start in the signal's count of accepted records (8 bytes, a big-endian
 *           double), how many it holds (4 bytes, big-endian), then the request's bytes
 *
 * Why: at a Codex session's rate a write holds a line or two, each repeating what the lines before
 * it said (the session's context, the same keys); compressed against them they take a fraction of
 * the data they came from, so fewer pages of the file are ever dirty. Large writes (a flood) go
 * as they are: they fill pages anyway, and compressing them would cost the ingest its CPU.
 * Every file starts without a dictionary, so each one still replays on its own.
 *
 * Why requests: behind a collector slower than what arrives, records wait in their export queue
 * seconds after they are serialised. Their requests, already made, cover them at the cost of a
 * write; a JSON line for each of their records cost its text made again, and its garbage
 * (journal-requests.ts).
 */
import type { WireFormat } from './queued-exporters.js';

/** Writes smaller than this are compressed. */
export const COMPRESS_BELOW_BYTES = 64 * 1024;
/** How much of a file's earlier lines a compressed frame refers to (deflate's window). */
export const DICTIONARY_BYTES = 32 * 1024;
const HEADER_BYTES = 5;
const RAW = 0;
const DEFLATED = 1;
const REQUEST = 2;
/** A request frame's payload before the request's bytes: signal, format, start, records. */
const REQUEST_META_BYTES = 14;
const LANE_SIGNALS = ['logs', 'traces'] as const;
const FORMATS = ['protobuf', 'json'] as const;

/**
 * An export request of the log or the trace lane, as a journal holds it: serialised, waiting in
 * its export queue, standing for `records` records of its signal from `start` on (the signal's
 * count of accepted records before its first).
 */
export interface JournaledRequest {
  readonly signal: 'logs' | 'traces';
  readonly format: WireFormat;
  readonly start: number;
  readonly records: number;
  readonly bytes: Uint8Array;
}

/** The lines a frame's writer and reader both hold: the file's last {@link DICTIONARY_BYTES}. */
export function nextDictionary(dictionary: Buffer, text: Buffer): Buffer {
  if (text.length >= DICTIONARY_BYTES) return Buffer.from(text.subarray(text.length - DICTIONARY_BYTES));
  const joined = Buffer.concat([dictionary, text]);
  return joined.length > DICTIONARY_BYTES ? joined.subarray(joined.length - DICTIONARY_BYTES) : joined;
}

/**
 * One frame holding `text` (whole lines), compressed when small, against `dictionary`: its header
 * and its payload, to be written one behind the other. A large payload is `text` itself, not a
 * copy: under a flood the journal writes megabytes a second, and joining them to a 5-byte header
 * copied every one of them once more.
 */
export function encodeJournalFrame(text: Buffer, dictionary: Buffer): readonly [header: Buffer, payload: Buffer] {
  const deflated = text.length < COMPRESS_BELOW_BYTES;
  // Taken at first use, as the daemon's other optional builtins are: most daemons write no journal.
  const payload = deflated ? process.getBuiltinModule('node:zlib').deflateRawSync(text, { level: 1, ...(dictionary.length > 0 ? { dictionary } : {}) }) : text;
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt8(deflated ? DEFLATED : RAW, 0);
  header.writeUInt32BE(payload.length, 1);
  return [header, payload];
}

/**
 * One request frame: its header and what comes before the request's bytes, then the bytes
 * themselves (not copied: written one behind the other).
 */
export function encodeRequestFrame(request: JournaledRequest): readonly [head: Buffer, bytes: Uint8Array] {
  const head = Buffer.alloc(HEADER_BYTES + REQUEST_META_BYTES);
  head.writeUInt8(REQUEST, 0);
  head.writeUInt32BE(REQUEST_META_BYTES + request.bytes.length, 1);
  head.writeUInt8(LANE_SIGNALS.indexOf(request.signal) + 1, HEADER_BYTES);
  head.writeUInt8(FORMATS.indexOf(request.format), HEADER_BYTES + 1);
  head.writeDoubleBE(request.start, HEADER_BYTES + 2);
  head.writeUInt32BE(request.records, HEADER_BYTES + 10);
  return [head, request.bytes];
}

/** A request frame's payload, or null when it does not read as one. */
function requestOf(payload: Buffer): JournaledRequest | null {
  if (payload.length < REQUEST_META_BYTES) return null;
  const signal = LANE_SIGNALS[payload.readUInt8(0) - 1];
  const format = FORMATS[payload.readUInt8(1)];
  const start = payload.readDoubleBE(2);
  const records = payload.readUInt32BE(10);
  if (signal === undefined || format === undefined || !Number.isSafeInteger(start) || start < 0) return null;
  return { signal, format, start, records, bytes: Buffer.from(payload.subarray(REQUEST_META_BYTES)) };
}

/**
 * The text of a file's frames, in order, and the requests its request frames hold. A frame cut
 * short or that does not decode (a crash mid-write) ends the file: `torn` says so, and the text
 * and requests hold only the frames before it.
 */
export function decodeJournalFrames(data: Buffer): { text: string; requests: JournaledRequest[]; torn: boolean } {
  const texts: Buffer[] = [];
  const requests: JournaledRequest[] = [];
  const read = (torn: boolean) => ({ text: Buffer.concat(texts).toString('utf8'), requests, torn });
  let dictionary: Buffer = Buffer.alloc(0);
  let at = 0;
  while (at < data.length) {
    if (data.length - at < HEADER_BYTES) return read(true);
    const kind = data.readUInt8(at);
    const length = data.readUInt32BE(at + 1);
    const payload = data.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length);
    if (payload.length < length || (kind !== RAW && kind !== DEFLATED && kind !== REQUEST)) return read(true);
    at += HEADER_BYTES + length;
    if (kind === REQUEST) {
      const request = requestOf(payload);
      if (request === null) return read(true);
      requests.push(request);
      continue;
    }
    let text: Buffer;
    try {
      text = kind === RAW ? payload : process.getBuiltinModule('node:zlib').inflateRawSync(payload, dictionary.length > 0 ? { dictionary } : {});
    } catch {
      return read(true);
    }
    texts.push(text);
    dictionary = nextDictionary(dictionary, text);
  }
  return read(false);
}
