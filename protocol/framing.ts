/**
 * The wire's framing, as pure functions over bytes: vscode-jsonrpc's `Content-Length` headers
 * around UTF-8 JSON bodies. The daemon's bounded reader and the thin client both use it, so the
 * two sides cannot disagree on a frame; the client uses it instead of vscode-jsonrpc itself
 * because loading that library costs a short-lived host about 50 ms. (`Buffer` is Node's global.)
 */
import { ErrorCodes } from './errors.js';
import { MAX_HEADER_BYTES, MAX_MESSAGE_BYTES } from './limits.js';

const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');
const EMPTY = Buffer.alloc(0);
/**
 * Where a frame that arrived in several reads is put together to be decoded: one buffer for every
 * decoder (each `push` runs to completion), in memory written before. A new Buffer per frame is
 * mostly pages never touched, each of whose first touch is a page fault. Kept for the process's
 * life up to this size; a larger frame gets memory of its own, let go after it.
 */
const MAX_ASSEMBLY_BYTES = 1024 * 1024;
let assembly = EMPTY;
const CONTENT_LENGTH = /^content-length$/i;
const DIGITS = /^\d+$/;

/**
 * Encodes one JSON-RPC message as a frame. The body is written straight into the frame's buffer
 * behind its header: no second copy of a batch that may be megabytes.
 */
export function encodeFrame(message: object): Buffer {
  const body = JSON.stringify(message);
  const length = Buffer.byteLength(body, 'utf8');
  const header = `Content-Length: ${length}\r\n\r\n`;
  const frame = Buffer.allocUnsafe(header.length + length);
  frame.write(header, 0, 'latin1');
  frame.write(body, header.length, length, 'utf8');
  return frame;
}

/** The stream cannot be read any further; the decoder accepts nothing more. */
export type FatalFrame = { readonly kind: 'fatal'; readonly code: number; readonly error: string };

/** A complete frame whose body is not parsed yet: its bytes, outside the JavaScript heap (whose memory: see {@link createBodyDecoder}'s `owned`). */
export type BodyFrame = { readonly kind: 'body'; readonly body: Buffer; /** The body's length in bytes. */ readonly bytes: number };

/** What a complete frame's body parses as. */
export type ParsedFrame =
  /** A complete frame whose body parsed as JSON (not yet checked to be JSON-RPC). */
  | { readonly kind: 'message'; readonly message: unknown; /** The body's length in bytes. */ readonly bytes: number }
  /** A complete frame whose body is not JSON. The stream is still in sync. */
  | { readonly kind: 'invalid-json'; readonly error: string };

export type DecodedFrame = ParsedFrame | FatalFrame;

export interface FrameDecoder<F = DecodedFrame> {
  /** Feeds bytes in arrival order and returns the frames they completed. */
  push(chunk: Uint8Array): F[];
  /** Bytes held for an incomplete frame: non-zero at end of stream means a truncated frame. */
  readonly pendingBytes: number;
}

/** Parses a body the decoder handed on unparsed. */
export function parseBody({ body, bytes }: BodyFrame): ParsedFrame {
  try {
    return { kind: 'message', message: JSON.parse(body.toString('utf8')) as unknown, bytes };
  } catch (error) {
    return { kind: 'invalid-json', error: error instanceof Error ? error.message : String(error) };
  }
}

export interface FrameDecoderOptions {
  readonly maxBodyBytes?: number;
  readonly maxHeaderBytes?: number;
}

/**
 * Creates a decoder that holds at most one incomplete frame. A frame larger than `maxBodyBytes`
 * is refused from its header alone, before its body is buffered.
 */
export function createFrameDecoder(options: FrameDecoderOptions = {}): FrameDecoder {
  const bodies = createBodyDecoder({ ...options, owned: false });
  return {
    get pendingBytes() {
      return bodies.pendingBytes;
    },
    push: (chunk) => bodies.push(chunk).map((frame) => (frame.kind === 'body' ? parseBody(frame) : frame)),
  };
}

/**
 * As {@link createFrameDecoder}, but hands each body on as bytes, to be parsed with
 * {@link parseBody} when it is wanted: a reader that queues frames holds their bytes outside the
 * JavaScript heap rather than the many objects (or the string) a parsed batch is, which every
 * garbage collection meanwhile would copy. With `owned` false, a body may be a view of memory the
 * next `push` reuses: parse it before then.
 */
export function createBodyDecoder(options: FrameDecoderOptions & { readonly owned?: boolean } = {}): FrameDecoder<BodyFrame | FatalFrame> {
  const owned = options.owned ?? true;
  const maxBody = options.maxBodyBytes ?? MAX_MESSAGE_BYTES;
  const maxHeader = options.maxHeaderBytes ?? MAX_HEADER_BYTES;
  let chunks: Buffer[] = [];
  let total = 0;
  let bodyLength = -1;
  let failed = false;

  /**
   * The first `length` bytes held, in one Buffer: a view when the first read holds them all,
   * else a copy into the shared assembly buffer (valid until the next call).
   */
  function front(length: number): Buffer {
    if (length === 0) return EMPTY;
    const first = chunks[0] as Buffer;
    if (first.length >= length) return first.subarray(0, length);
    if (assembly.length < length) assembly = Buffer.allocUnsafeSlow(Math.max(length, Math.min(2 * assembly.length, MAX_ASSEMBLY_BYTES), 64 * 1024));
    let at = 0;
    for (const chunk of chunks) {
      at += chunk.copy(assembly, at, 0, Math.min(chunk.length, length - at));
      if (at === length) break;
    }
    const bytes = assembly.subarray(0, length);
    // A frame larger than the assembly keeps was copied into memory of its own size: let it go.
    if (assembly.length > MAX_ASSEMBLY_BYTES) assembly = EMPTY;
    return bytes;
  }

  /** Forgets the first `length` bytes held: the reads they fill are let go at once, however many. */
  function drop(length: number): void {
    total -= length;
    let gone = 0;
    for (; gone < chunks.length && length > 0; gone++) {
      const chunk = chunks[gone] as Buffer;
      if (chunk.length > length) {
        chunks[gone] = chunk.subarray(length);
        break;
      }
      length -= chunk.length;
    }
    if (gone > 0) chunks = chunks.slice(gone);
  }

  function fail(code: number, error: string): FatalFrame {
    failed = true;
    chunks = [];
    total = 0;
    return { kind: 'fatal', code, error };
  }

  function readHeader(header: string): number | FatalFrame {
    let length = -1;
    for (const line of header.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) return fail(ErrorCodes.FramingError, `malformed header line ${JSON.stringify(line.slice(0, 64))}`);
      if (!CONTENT_LENGTH.test(line.slice(0, colon).trim())) continue;
      const text = line.slice(colon + 1).trim();
      if (!DIGITS.test(text)) return fail(ErrorCodes.FramingError, `Content-Length ${JSON.stringify(text.slice(0, 32))} is not a byte count`);
      length = Number(text);
    }
    if (length < 0) return fail(ErrorCodes.FramingError, 'frame header has no Content-Length');
    if (length > maxBody) {
      return fail(ErrorCodes.MessageTooLarge, `message of ${length} bytes exceeds the limit of ${maxBody} bytes`);
    }
    return length;
  }

  return {
    get pendingBytes() {
      return total;
    },
    push(chunk: Uint8Array): (BodyFrame | FatalFrame)[] {
      if (failed) return [];
      const frames: (BodyFrame | FatalFrame)[] = [];
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      total += chunk.byteLength;
      for (;;) {
        if (bodyLength < 0) {
          // A header within the limit ends, terminator included, within the first bytes it allows.
          const head = front(Math.min(total, maxHeader + HEADER_END.length));
          const end = head.indexOf(HEADER_END);
          if (end < 0) {
            // Only once even the terminator cannot fit within the limit is the header too long,
            // however the bytes were split into chunks.
            if (total >= maxHeader + HEADER_END.length) frames.push(fail(ErrorCodes.FramingError, `frame header exceeds ${maxHeader} bytes`));
            return frames;
          }
          const length = readHeader(head.toString('latin1', 0, end));
          if (typeof length !== 'number') {
            frames.push(length);
            return frames;
          }
          bodyLength = length;
          drop(end + HEADER_END.length);
        }
        if (total < bodyLength) return frames;
        let body = front(bodyLength);
        // A view of the reads is the frame's own (reads are never reused); the shared assembly is not.
        if (owned && body.length > 0 && body.buffer === assembly.buffer) body = Buffer.from(body);
        drop(bodyLength);
        frames.push({ kind: 'body', body, bytes: bodyLength });
        bodyLength = -1;
      }
    },
  };
}
