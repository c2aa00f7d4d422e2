/**
 * A raw socket peer for bad-input tests: it writes arbitrary bytes and reads the daemon's
 * frames back, without any of the client library's checks.
 */
import { connect, type Socket } from 'node:net';

import { createFrameDecoder, encodeFrame } from '../../protocol/index.js';

export interface RawPeer {
  readonly socket: Socket;
  write(bytes: string | Buffer): void;
  send(message: object): void;
  /** The next frame from the daemon, as parsed JSON. */
  next(timeoutMs?: number): Promise<Record<string, unknown>>;
  request(id: number, method: string, params?: unknown): Promise<Record<string, unknown>>;
  initialize(name?: string): Promise<Record<string, unknown>>;
  readonly closed: Promise<void>;
  destroy(): void;
}

export async function openRawPeer(path: string): Promise<RawPeer> {
  const socket = connect(path);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const decoder = createFrameDecoder();
  const frames: Record<string, unknown>[] = [];
  let waiter: (() => void) | null = null;
  socket.on('data', (chunk: Buffer) => {
    for (const frame of decoder.push(chunk)) if (frame.kind === 'message') frames.push(frame.message as Record<string, unknown>);
    waiter?.();
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => undefined);

  async function next(timeoutMs = 5000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (frames.length === 0) {
      if (Date.now() > deadline || socket.destroyed) throw new Error('no frame from the daemon');
      await new Promise<void>((resolve) => {
        waiter = resolve;
        setTimeout(resolve, 50);
      });
    }
    return frames.shift() as Record<string, unknown>;
  }

  const peer: RawPeer = {
    socket,
    write: (bytes) => socket.write(bytes),
    send: (message) => socket.write(encodeFrame(message)),
    next,
    async request(id, method, params) {
      peer.send(params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params });
      return next();
    },
    initialize: (name = 'raw-test') => peer.request(0, 'initialize', { protocolVersion: 1, clientInfo: { name, version: '0.0.1' } }),
    closed,
    destroy: () => socket.destroy(),
  };
  return peer;
}

/** A frame with a body given as raw text, so tests can send what encodeFrame never would. */
export function rawFrame(body: string, length = Buffer.byteLength(body)): string {
  return `Content-Length: ${length}\r\n\r\n${body}`;
}
