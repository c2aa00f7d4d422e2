/**
 * A Unix socket between a client and the real daemon that notes every frame in the order it
 * passes, so a test can see what a client wrote before the daemon's answer reached it. It can
 * hold the daemon's bytes back for a while, and make the daemon refuse a connection's
 * `initialize` (by asking for protocol version 0 in it).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

import { createFrameDecoder, encodeFrame } from '../../protocol/index.js';

/** A frame as it passed: `up` from the client to the daemon, `down` back. */
export interface PassedFrame {
  readonly connection: number;
  readonly direction: 'up' | 'down';
  readonly method?: string;
  readonly id?: unknown;
  readonly error?: { readonly code: number };
}

export interface FrameProxyOptions {
  /** How long the daemon's bytes wait before they are passed on to the client. */
  readonly holdAnswersMs?: number;
  /** The connections (numbered from 0) whose `initialize` asks for protocol version 0, which the daemon refuses. */
  readonly refuseInitialize?: (connection: number) => boolean;
}

export interface FrameProxy {
  readonly path: string;
  /** Every frame so far, in the order it passed. */
  readonly frames: readonly PassedFrame[];
  close(): Promise<void>;
}

export async function startFrameProxy(path: string, daemonPath: string, options: FrameProxyOptions = {}): Promise<FrameProxy> {
  const frames: PassedFrame[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;

  function note(connection: number, direction: 'up' | 'down', message: unknown): void {
    const { method, id, error } = message as { method?: string; id?: unknown; error?: { code: number } };
    frames.push({ connection, direction, ...(method === undefined ? {} : { method }), ...(id === undefined ? {} : { id }), ...(error === undefined ? {} : { error: { code: error.code } }) });
  }

  const server: Server = createServer((client) => {
    const connection = connections++;
    const daemon = connect(daemonPath);
    sockets.add(client).add(daemon);
    const up = createFrameDecoder();
    const down = createFrameDecoder();
    client.on('data', (chunk: Buffer) => {
      for (const frame of up.push(chunk)) {
        if (frame.kind !== 'message') continue;
        const message = frame.message as { method?: string; params?: { protocolVersion?: number } };
        if (message.method === 'initialize' && options.refuseInitialize?.(connection) === true && message.params !== undefined) message.params.protocolVersion = 0;
        note(connection, 'up', message);
        daemon.write(encodeFrame(message));
      }
    });
    daemon.on('data', (chunk: Buffer) => {
      const pass = (): void => {
        for (const frame of down.push(chunk)) if (frame.kind === 'message') note(connection, 'down', frame.message);
        if (!client.destroyed) client.write(chunk);
      };
      if (options.holdAnswersMs === undefined) pass();
      else setTimeout(pass, options.holdAnswersMs);
    });
    // Each side's end reaches the other once what it sent has passed.
    client.on('end', () => daemon.end());
    daemon.on('end', () => setTimeout(() => client.end(), options.holdAnswersMs ?? 0));
    for (const socket of [client, daemon]) {
      socket.on('error', () => undefined);
      socket.on('close', () => sockets.delete(socket));
    }
    client.on('close', () => daemon.destroy());
    // The daemon's last bytes may still be held: the client's side goes once they have passed.
    daemon.on('close', () => setTimeout(() => client.destroy(), (options.holdAnswersMs ?? 0) + 20));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, resolve);
  });
  return {
    path,
    frames,
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
