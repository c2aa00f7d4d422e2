/**
 * The command line's own connection to a running daemon: connect, `initialize`, requests with
 * deadlines. It uses protocol/'s framing rather than vscode-jsonrpc so `codexd status` starts
 * as fast as a thin client does.
 */
import { connect, type Socket } from 'node:net';

import { createRequestCorrelator } from '../client/request-correlator.js';
import { createFrameDecoder, encodeFrame, Initialize, PACKAGE_VERSION, PROTOCOL_VERSION } from '../protocol/index.js';

/** Nothing answers on the socket: no file, or nobody listening. */
export class DaemonNotRunningError extends Error {
  override readonly name = 'DaemonNotRunningError';
}

/** The daemon answered with a JSON-RPC error. */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ControlConnection {
  request<R>(method: string, params: object, timeoutMs: number): Promise<R>;
  /** Resolves when the daemon closes the connection (for example after it exits). */
  readonly closed: Promise<void>;
  close(): void;
}

function connectTo(socketPath: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new DaemonNotRunningError(`codexd did not answer on ${socketPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ENOENT' || error.code === 'ECONNREFUSED') reject(new DaemonNotRunningError(`codexd is not running (nothing listens on ${socketPath})`));
      else reject(new Error(`cannot connect to ${socketPath}: ${error.message}`));
    });
  });
}

/** Connects and initializes as `codexd-cli`. */
export async function openControlConnection(socketPath: string, timeoutMs: number): Promise<ControlConnection> {
  const socket = await connectTo(socketPath, timeoutMs);
  const decoder = createFrameDecoder();
  // A daemon that let a request pass its deadline may never answer nor close: the connection
  // is given up, so it cannot hold the command past the deadline it printed.
  const requests = createRequestCorrelator({ onTimeout: () => socket.destroy() });
  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));

  socket.on('data', (chunk: Buffer) => {
    for (const frame of decoder.push(chunk)) if (frame.kind === 'message') requests.settle(frame.message);
  });
  socket.on('error', (error) => requests.rejectAll(error));
  socket.on('close', () => {
    requests.rejectAll(new Error('the daemon closed the connection'));
    resolveClosed();
  });

  const connection: ControlConnection = {
    async request<R>(method: string, params: object, requestTimeoutMs: number): Promise<R> {
      const id = requests.nextId();
      const answer = requests.wait(id, method, requestTimeoutMs);
      socket.write(encodeFrame({ jsonrpc: '2.0', id, method, params }));
      const { result, error } = await answer;
      if (error !== undefined) throw new RpcError(error.code, error.message);
      return result as R;
    },
    closed,
    close() {
      socket.end();
    },
  };
  try {
    await connection.request<Initialize.Result>(
      Initialize.method,
      { protocolVersion: PROTOCOL_VERSION, clientInfo: { name: 'codexd-cli', version: PACKAGE_VERSION }, processId: process.pid },
      timeoutMs,
    );
  } catch (error) {
    // Refused (an unsupported version, say): the caller gets no connection to close.
    socket.destroy();
    throw error;
  }
  return connection;
}
