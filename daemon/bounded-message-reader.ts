/**
 * A vscode-jsonrpc MessageReader over a socket that enforces the protocol's bounds, which the
 * library's own stream reader does not: a frame whose Content-Length exceeds the limit is
 * refused from its header, before its body is buffered; a body that is not JSON, or JSON that
 * is not a JSON-RPC 2.0 message, is answered with an error and skipped, and the stream stays
 * in sync. It also applies backpressure: past a bound of read-but-unhandled messages it
 * pauses the socket, so one fast client cannot grow the daemon's memory without bound.
 *
 * Frames wait here as their bytes and are parsed one at a time, as the library takes up the one
 * before (it handles a connection's messages one per turn of the event loop): a batch parsed
 * early would sit in memory as thousands of young objects, which every scavenge meanwhile copies.
 *
 * Only messages codexd's own handlers will see are passed on, so the count of unhandled ones
 * is exact: `$/` methods (vscode-jsonrpc's cancellation and tracing, which codexd does not use
 * and which crash the library when malformed) are answered or dropped here; a request whose
 * id is still pending is refused (the library would silently replace the first one); params
 * must be by name, and absent params become `{}`.
 */
import type { Socket } from 'node:net';

import { AbstractMessageReader, type DataCallback, Disposable, type Message } from 'vscode-jsonrpc/node';

import { type BodyFrame, createBodyDecoder, ErrorCodes, type FatalFrame, parseBody } from '../protocol/index.js';
import type { MemoryGate } from './memory-limiter.js';

/** Messages read and not yet handled (queued here, or handed to the connection) before the socket is paused. */
export const MAX_UNHANDLED_MESSAGES = 64;

/**
 * Bytes of frame bodies read and not yet handled before the socket is paused: 64 batches of a
 * few hundred KiB each would be a large part of what the memory limiter allows, per connection.
 * Reading resumes below half.
 */
export const MAX_UNHANDLED_BYTES = 2 * 1024 * 1024;

/**
 * Bytes of responses waiting to be written to a client before its socket is paused: a client
 * that sends requests and never reads the answers would otherwise grow the daemon's memory
 * without bound. Reading resumes once half of them are written.
 */
export const MAX_UNSENT_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * Bytes of unfinished frames the daemon holds for all its connections together. Each may hold
 * up to one frame (8 MiB) while it arrives; with a thousand connections that is gigabytes, so
 * past this bound the connection whose bytes would pass it is refused (`-32018` Overloaded)
 * and closed, and sends the frame again later.
 */
export const MAX_PARTIAL_FRAME_BYTES_TOTAL = 64 * 1024 * 1024;

/** What all readers hold of unfinished frames, shared by the connections of one daemon. */
export interface PartialFrameBudget {
  held: number;
}

export interface BoundedReaderEvents {
  /** Shared by all connections: the unfinished frames they hold, in bytes. */
  readonly partialFrames: PartialFrameBudget;
  /** Ids of requests delivered and not yet answered (the writer removes them as it answers). */
  readonly pendingIds: Set<string>;
  /** The daemon's memory limiter: while it holds, a connection that sends telemetry is not read. */
  readonly memory: MemoryGate;
  /** The stream is broken (oversized or malformed frame); answer with `code`, then close. */
  onFatal(code: number, message: string): void;
  /** A frame that is not a usable message; answer `id` (or null) with the error and go on. */
  onInvalid(id: string | number | null, code: number, message: string): void;
  /** A `$/` method: refused if it is a request (`id` not null), ignored if a notification. */
  onReserved(id: string | number | null, method: string): void;
}

export interface BoundedMessageReader extends AbstractMessageReader {
  /** Tells the reader that the library took up the message handed on last: the next one may be parsed and handed on. */
  taken(): void;
  /** Tells the reader that the connection finished handling one delivered message. */
  handled(): void;
  /**
   * Tells the reader that the connection sends telemetry: from now on it hands nothing on while
   * the memory limiter holds. Connections that only ask (status, flush) are always read. Returns
   * whether it was already known to: then every message it handed on was handed on while the
   * limiter let it.
   */
  sendsTelemetry(): boolean;
  /** True when every delivered message was handled and no bytes arrived for `quietMs`. */
  isQuiet(quietMs: number): boolean;
}

type Id = string | number | null;

function idOf(value: Record<string, unknown>): Id {
  const id = value.id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

/** Why `value` is not a JSON-RPC 2.0 request or notification, or null when it is one. */
function messageProblem(value: unknown): string | null {
  if (Array.isArray(value)) return 'JSON-RPC batch arrays are not supported; send one message per frame';
  if (typeof value !== 'object' || value === null) return 'a message must be a JSON object';
  const message = value as Record<string, unknown>;
  if (message.jsonrpc !== '2.0') return 'jsonrpc: must be "2.0"';
  if (typeof message.method !== 'string') {
    return 'result' in message || 'error' in message ? 'the daemon sends no requests, so it takes no responses' : 'method: must be a string';
  }
  const id = message.id;
  if (id !== undefined && typeof id !== 'string' && typeof id !== 'number') return 'id: must be a string or a number';
  if ('params' in message && (typeof message.params !== 'object' || message.params === null || Array.isArray(message.params))) {
    return 'params: must be an object (parameters by name)';
  }
  return null;
}

class Reader extends AbstractMessageReader implements BoundedMessageReader {
  /** Frames read and not yet handed on, oldest first, their bodies still bytes. */
  private queue: (BodyFrame | FatalFrame)[] = [];
  private queuedBytes = 0;
  /** Handed on and not yet taken up by the library: at most one. */
  private waiting = 0;
  private unhandled = 0;
  /** Body bytes of the messages handed on and not yet handled, oldest first (handlers finish in about that order). */
  private readonly unhandledSizes: number[] = [];
  private unhandledBytes = 0;
  private callback: DataCallback | null = null;
  private paused = false;
  /** A frame broke the stream: nothing more is read. */
  private broken = false;
  /** Sends telemetry: paused while the memory limiter holds. */
  private producer = false;
  /** Not read because of memory; the cancel of the limiter's call back. */
  private memoryHold: (() => void) | null = null;
  private checkScheduled = false;
  private lastDataAt = 0;

  constructor(
    private readonly socket: Socket,
    private readonly maxBodyBytes: number,
    private readonly events: BoundedReaderEvents,
  ) {
    super();
  }

  listen(callback: DataCallback): Disposable {
    this.callback = callback;
    const decoder = createBodyDecoder({ maxBodyBytes: this.maxBodyBytes });
    const budget = this.events.partialFrames;
    /** This connection's share of the budget: the bytes its decoder holds. */
    let held = 0;
    const account = (): boolean => {
      budget.held += decoder.pendingBytes - held;
      held = decoder.pendingBytes;
      return held === 0 || budget.held <= MAX_PARTIAL_FRAME_BYTES_TOTAL;
    };
    const onData = (chunk: Buffer): void => {
      this.lastDataAt = performance.now();
      for (const frame of decoder.push(chunk)) {
        this.queue.push(frame);
        if (frame.kind === 'body') this.queuedBytes += frame.bytes;
        // Nothing after a broken frame is read; what came before it is still handed on first.
        else this.stopReading();
      }
      this.handOn();
      if (!account()) {
        // Refused, not lost: nothing of the unfinished frame was taken in.
        this.stopReading();
        this.events.onFatal(ErrorCodes.Overloaded, `the daemon holds ${MAX_PARTIAL_FRAME_BYTES_TOTAL} bytes of unfinished frames from all its connections; send this message again later`);
        return;
      }
      this.pauseIfBehind();
    };
    // Answers to what was read may still be queued when the chunk is done: look again once
    // they are, and whenever the client has taken what waited.
    const onDrain = (): void => this.resumeIfCaughtUp();
    const onClose = (): void => {
      this.memoryHold?.();
      this.memoryHold = null;
      budget.held -= held;
      held = 0;
      if (decoder.pendingBytes > 0) this.fireError(new Error(`connection closed inside a frame (${decoder.pendingBytes} bytes unread)`));
      this.fireClose();
    };
    const onError = (error: Error): void => this.fireError(error);
    this.socket.on('data', onData);
    this.socket.on('close', onClose);
    this.socket.on('error', onError);
    this.socket.on('drain', onDrain);
    return Disposable.create(() => {
      this.callback = null;
      this.socket.off('drain', onDrain);
      this.socket.off('data', onData);
      this.socket.off('close', onClose);
      this.socket.off('error', onError);
    });
  }

  isQuiet(quietMs: number): boolean {
    return this.unhandled === 0 && this.queue.length === 0 && performance.now() - this.lastDataAt >= quietMs;
  }

  taken(): void {
    this.waiting--;
    this.handOn();
  }

  handled(): void {
    this.unhandled--;
    this.unhandledBytes -= this.unhandledSizes.shift() ?? 0;
    // The handler's answer is written after it returns: check the write queue then, once for
    // all the messages handled in this turn of the loop.
    if (!this.checkScheduled) {
      this.checkScheduled = true;
      setImmediate(() => {
        this.checkScheduled = false;
        this.pauseIfBehind();
      });
    }
    this.resumeIfCaughtUp();
  }

  sendsTelemetry(): boolean {
    const known = this.producer;
    this.producer = true;
    return known;
  }

  /**
   * Parses and hands on queued frames, in order, until one message waits for the library; stops,
   * keeping the rest, when the memory limiter holds a connection that sends telemetry.
   */
  private handOn(): void {
    while (this.waiting === 0 && this.queue.length > 0 && this.callback !== null) {
      if (this.producer && this.holdForMemory()) return;
      const next = this.queue.shift() as BodyFrame | FatalFrame;
      if (next.kind === 'fatal') {
        this.queue = [];
        this.queuedBytes = 0;
        this.events.onFatal(next.code, next.error);
        return;
      }
      this.queuedBytes -= next.bytes;
      const frame = parseBody(next);
      if (frame.kind === 'invalid-json') {
        this.events.onInvalid(null, ErrorCodes.ParseError, `frame body is not valid JSON: ${frame.error}`);
        continue;
      }
      const problem = messageProblem(frame.message);
      if (problem !== null) {
        const id = typeof frame.message === 'object' && frame.message !== null && !Array.isArray(frame.message) ? idOf(frame.message as Record<string, unknown>) : null;
        this.events.onInvalid(id, ErrorCodes.InvalidRequest, problem);
        continue;
      }
      const message = frame.message as Message & { method: string; id?: string | number; params?: object };
      if (message.method.startsWith('$/')) {
        this.events.onReserved(message.id ?? null, message.method);
        continue;
      }
      if (message.id !== undefined) {
        const key = String(message.id);
        if (this.events.pendingIds.has(key)) {
          // Answered with a null id: under the duplicate id, a client would take this error
          // for the answer to its first request.
          this.events.onInvalid(null, ErrorCodes.InvalidRequest, `id: ${JSON.stringify(message.id)} is already used by a request still pending`);
          continue;
        }
        this.events.pendingIds.add(key);
      }
      // vscode-jsonrpc hands a handler its cancellation token in place of absent params.
      if (message.params === undefined) message.params = {};
      this.waiting++;
      this.unhandled++;
      this.unhandledSizes.push(frame.bytes);
      this.unhandledBytes += frame.bytes;
      this.callback(message);
    }
  }

  /**
   * While the memory limiter holds, stops reading and waits for it to let go; true when it holds.
   * Once it does, what was queued is handed on first, then the socket is read again.
   */
  private holdForMemory(): boolean {
    if (this.memoryHold !== null) return true;
    if (!this.events.memory.holding()) return false;
    this.paused = true;
    this.socket.pause();
    let released = false;
    const cancel = this.events.memory.whenReleased(() => {
      released = true;
      this.memoryHold = null;
      this.handOn();
      this.resumeIfCaughtUp();
    });
    if (!released) this.memoryHold = cancel;
    return !released;
  }

  /**
   * Stops reading while too many messages (or bytes of them) are queued or wait to be handled, or
   * too many answers to be written, or, for a connection that sends telemetry, while the memory
   * limiter holds.
   */
  private pauseIfBehind(): void {
    if (this.paused || this.socket.destroyed) return;
    if (this.producer && this.holdForMemory()) return;
    if (this.queue.length + this.unhandled >= MAX_UNHANDLED_MESSAGES || this.queuedBytes + this.unhandledBytes >= MAX_UNHANDLED_BYTES || this.socket.writableLength > MAX_UNSENT_RESPONSE_BYTES) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private stopReading(): void {
    this.broken = true;
    this.socket.pause();
  }

  private resumeIfCaughtUp(): void {
    if (
      this.paused &&
      this.memoryHold === null &&
      this.queue.length + this.unhandled < MAX_UNHANDLED_MESSAGES / 2 &&
      this.queuedBytes + this.unhandledBytes < MAX_UNHANDLED_BYTES / 2 &&
      this.socket.writableLength <= MAX_UNSENT_RESPONSE_BYTES / 2 &&
      !this.broken
    ) {
      this.paused = false;
      this.socket.resume();
    }
  }
}

export function createBoundedMessageReader(socket: Socket, maxBodyBytes: number, events: BoundedReaderEvents): BoundedMessageReader {
  return new Reader(socket, maxBodyBytes, events);
}
