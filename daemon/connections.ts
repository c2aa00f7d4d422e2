/**
 * The client connections the daemon serves: accepting them (within {@link MAX_CONNECTIONS}),
 * counting protocol errors by reason, draining what they sent before a flush or a stop, and
 * closing them at the end.
 *
 * What serves a connection (JSON-RPC, the method handlers) is loaded with the first one: a daemon
 * no client has talked to yet does not hold it. Sockets accepted meanwhile wait, what they send kept in the socket until served.
 */
import type { Socket } from 'node:net';

import { type ClientStatus, encodeFrame, ErrorCodes } from '../protocol/index.js';
import type { ClientConnection, DaemonServices } from './connection.js';

/** Open connections the daemon serves at once; beyond, a new one is told why and closed. */
export const MAX_CONNECTIONS = 1024;
/**
 * Before a stop or a flush, a connection counts as drained once it has been silent this long
 * with nothing left unhandled: records a client wrote just before are still taken in.
 */
const DRAIN_QUIET_MS = 50;
/** Longest that closing every connection waits for them to be gone. */
const CLOSE_WAIT_MS = 200;

export interface Connections {
  /** Serves a socket the listener accepted with `services`, or turns it away (stopping, or too many). */
  accept(socket: Socket, services: DaemonServices): void;
  /** Counts a message-level protocol error by reason (malformed frame, unknown method, …). */
  protocolError(reason: string): void;
  protocolErrors(): Record<string, number>;
  readonly size: number;
  /** When a connection last opened or closed, epoch ms (the daemon's start before any). */
  lastChangeAt(): number;
  statuses(): ClientStatus[];
  /**
   * Waits until every open connection but `except` has been quiet for a moment with nothing
   * left unhandled, at most `maxMs`: records clients wrote just before are then accepted.
   * Always waits once, so bytes already in the socket buffers are read.
   */
  takeInWhatWasSent(maxMs: number, except: ClientConnection | null): Promise<void>;
  /** Ends every connection (pending writes go first); resolves once they are gone, or after a moment. */
  closeAll(): Promise<void>;
}

export interface ConnectionsOptions {
  readonly isShuttingDown: () => boolean;
}

export function createConnections(options: ConnectionsOptions): Connections {
  const open = new Set<ClientConnection>();
  const errors = new Map<string, number>();
  const protocolError = (reason: string): void => void errors.set(reason, (errors.get(reason) ?? 0) + 1);
  let changedAt = Date.now();
  type Serve = (typeof import('./connection.js'))['serveConnection'];
  let serve: Serve | null = null;
  /** Sockets accepted while the first connection loads what serves it, with their services. */
  const waiting = new Map<Socket, DaemonServices>();

  function serveNow(socket: Socket, services: DaemonServices, serveConnection: Serve): void {
    open.add(
      serveConnection(socket, services, (connection) => {
        open.delete(connection);
        changedAt = Date.now();
      }),
    );
  }

  function closeWaiting(this: Socket): void {
    this.destroy();
  }

  function serveWhenLoaded(socket: Socket, services: DaemonServices): void {
    // An error while it waits closes it; the serving code attaches its own handler.
    socket.on('error', closeWaiting);
    if (waiting.size === 0) {
      import('./connection.js').then(
        (loaded) => {
          serve = loaded.serveConnection;
          for (const [waited, its] of waiting) {
            waited.off('error', closeWaiting);
            if (waited.destroyed || options.isShuttingDown()) waited.destroy();
            else serveNow(waited, its, serve);
          }
          waiting.clear();
          changedAt = Date.now();
        },
        (error: unknown) => {
          // Only a broken install gets here: say so to each client rather than hang it.
          for (const waited of waiting.keys()) waited.destroy(error instanceof Error ? error : new Error(String(error)));
          waiting.clear();
        },
      );
    }
    waiting.set(socket, services);
  }

  return {
    accept(socket, services) {
      if (options.isShuttingDown()) {
        socket.destroy();
        return;
      }
      if (open.size + waiting.size >= MAX_CONNECTIONS) {
        // Said once on the wire, then closed: a client learns why rather than seeing a reset.
        protocolError('too_many_connections');
        socket.on('error', () => undefined);
        socket.end(encodeFrame({ jsonrpc: '2.0', id: null, error: { code: ErrorCodes.TooManyConnections, message: `the daemon holds its maximum of ${MAX_CONNECTIONS} connections; try again later` } }));
        setTimeout(() => socket.destroy(), 1000).unref();
        return;
      }
      changedAt = Date.now();
      if (serve === null) serveWhenLoaded(socket, services);
      else serveNow(socket, services, serve);
    },
    protocolError,
    protocolErrors: () => Object.fromEntries(errors),
    get size() {
      return open.size + waiting.size;
    },
    lastChangeAt: () => changedAt,
    statuses: () => [...open].map((connection) => connection.status()),
    async takeInWhatWasSent(maxMs, except) {
      const until = Date.now() + maxMs;
      do {
        await new Promise((resolve) => setTimeout(resolve, 10));
      } while (Date.now() < until && (waiting.size > 0 || ![...open].every((connection) => connection === except || connection.isQuiet(DRAIN_QUIET_MS))));
    },
    async closeAll() {
      for (const socket of waiting.keys()) socket.destroy();
      waiting.clear();
      for (const connection of open) connection.close();
      await Promise.race([Promise.all([...open].map((connection) => connection.closed)), new Promise((resolve) => setTimeout(resolve, CLOSE_WAIT_MS).unref())]);
    },
  };
}
