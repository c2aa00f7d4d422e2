/**
 * A vscode-jsonrpc MessageWriter that encodes with protocol/'s framing and writes each
 * message to the socket synchronously, in one piece. The library's stream writer writes the
 * header and the body as two asynchronous steps; a reply could then still be unwritten when
 * the daemon ends the socket on shutdown. Here, `socket.end()` after a reply always sends it.
 */
import type { Socket } from 'node:net';

import { AbstractMessageWriter, type Message, type MessageWriter } from 'vscode-jsonrpc/node';

import { encodeFrame } from '../protocol/index.js';

class SocketWriter extends AbstractMessageWriter implements MessageWriter {
  private errors = 0;

  constructor(
    private readonly socket: Socket,
    private readonly pendingIds: Set<string>,
  ) {
    super();
    socket.on('close', () => this.fireClose());
  }

  write(message: Message): Promise<void> {
    // A response frees its request id for reuse, whether or not it can still be written.
    const id = (message as { id?: unknown }).id;
    if (id !== undefined && id !== null && !('method' in message)) this.pendingIds.delete(String(id));
    if (this.socket.destroyed || this.socket.writableEnded) return Promise.resolve();
    try {
      this.socket.write(encodeFrame(message));
      return Promise.resolve();
    } catch (error) {
      this.fireError(error, message, ++this.errors);
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }

  end(): void {
    this.socket.end();
  }
}

/** `pendingIds` is shared with the reader: each response removes its request's id. */
export function createSocketMessageWriter(socket: Socket, pendingIds: Set<string>): MessageWriter {
  return new SocketWriter(socket, pendingIds);
}
