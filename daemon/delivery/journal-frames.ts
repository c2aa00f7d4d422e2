/**
 * The journal's file format (`<ms>-<seq>.jnz`): its JSON lines in frames, one frame a write.
 *
 *   frame = kind (1 byte) | length (4 bytes, big-endian) | payload
 *   kind 0: the payload is the lines as they are (UTF-8)
 *   kind 1: the payload is the lines compressed with raw deflate, the file's previous
 *           {@link DICTIONARY_BYTES} of lines (as they are) the dictionary
 *
 * Why: at a Codex session's rate a write holds a line or two, each repeating what the lines before
 * it said (the session's context, the same keys); compressed against them they take a fraction of
 * the data they came from, so fewer pages of the file are ever dirty. Large writes (a flood) go
 * as they are: they fill pages anyway, and compressing them would cost the ingest its CPU.
 * Every file starts without a dictionary, so each one still replays on its own.
 */
/** Writes smaller than this are compressed. */
export const COMPRESS_BELOW_BYTES = 64 * 1024;
/** How much of a file's earlier lines a compressed frame refers to (deflate's window). */
export const DICTIONARY_BYTES = 32 * 1024;
const HEADER_BYTES = 5;
const RAW = 0;
const DEFLATED = 1;

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
 * The text of a file's frames, in order. A frame cut short or that does not decode (a crash
 * mid-write) ends the file: `torn` says so, and the text holds only the frames before it.
 */
export function decodeJournalFrames(data: Buffer): { text: string; torn: boolean } {
  const texts: Buffer[] = [];
  let dictionary: Buffer = Buffer.alloc(0);
  let at = 0;
  const read = (torn: boolean) => ({ text: Buffer.concat(texts).toString('utf8'), torn });
  while (at < data.length) {
    if (data.length - at < HEADER_BYTES) return read(true);
    const kind = data.readUInt8(at);
    const length = data.readUInt32BE(at + 1);
    const payload = data.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length);
    if (payload.length < length || (kind !== RAW && kind !== DEFLATED)) return read(true);
    let text: Buffer;
    try {
      text = kind === RAW ? payload : process.getBuiltinModule('node:zlib').inflateRawSync(payload, dictionary.length > 0 ? { dictionary } : {});
    } catch {
      return read(true);
    }
    texts.push(text);
    dictionary = nextDictionary(dictionary, text);
    at += HEADER_BYTES + length;
  }
  return read(false);
}
