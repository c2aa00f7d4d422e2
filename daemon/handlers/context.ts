/**
 * What a connection's method handlers share: the daemon's services, the client once it has
 * initialized, and the checks every handler makes. connection.ts makes one per connection;
 * each file beside this one registers the handlers of one area.
 */
import type { MessageConnection, ResponseError } from 'vscode-jsonrpc/node';

import type { ClientConnection, DaemonServices } from '../connection.js';
import type { HostResource } from '../host-resources.js';

export interface InitializedClient {
  readonly name: string;
  readonly version: string;
  readonly pid: number | null;
  readonly resource: HostResource;
}

export interface ConnectionContext {
  readonly services: DaemonServices;
  readonly connection: MessageConnection;
  /** This connection, as the daemon lists it. */
  readonly self: ClientConnection;
  /** The client, once `initialize` succeeded; null before. */
  client(): InitializedClient | null;
  /**
   * Wraps a handler so the reader's count of unhandled messages is kept whatever happens. A
   * handler that returns a promise is done when the promise settles, not before: the shutdown
   * drain and a half-closed client's end both wait on that count.
   */
  handled<A extends unknown[], R>(handler: (...args: A) => R): (...args: A) => R;
  /** Counts and returns the refusal of a method sent before `initialize`. */
  notInitialized(): ResponseError;
  /** The client; throws the refusal before `initialize`. */
  requireInitialized(): InitializedClient;
  /**
   * Marks this connection as one that sends telemetry (not read while the memory limiter holds)
   * and, over the hard limit, returns the refusal of what it sent. A connection already known to
   * send telemetry had this message handed on while the limiter let it: refusing what is already
   * parsed in memory would free little and lose what the client was let send, so it is taken.
   * What is refused is a connection's first telemetry, which nothing held back.
   */
  overMemory(what: string): ResponseError<{ retryAfterMs: number }> | null;
  /** Counts what this connection sent, for its status. */
  received(kind: 'records' | 'events' | 'spans', count: number): void;
}

/** A handler that serves both as a notification and as a request (see telemetry.ts). */
export type DualHandler = (params: unknown) => object | ResponseError<unknown>;
