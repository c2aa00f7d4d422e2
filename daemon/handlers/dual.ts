/**
 * Telemetry and session methods are notifications or requests, as the client chooses: a
 * notification counts the failures a request is answered with. A request's answer says what it
 * sent is the daemon's, so it is on disk (the journal) before the answer.
 */
import { ErrorCodes } from '../../protocol/index.js';
import { ResponseError } from 'vscode-jsonrpc/node';

import type { ConnectionContext, DualHandler } from './context.js';

export function registerDual(context: ConnectionContext, method: string, handler: DualHandler): void {
  const { connection, services, handled } = context;
  connection.onNotification(
    method,
    handled((params: unknown) => {
      handler(params);
    }),
  );
  connection.onRequest(
    method,
    handled((params: unknown) => {
      const result = handler(params);
      if (result instanceof ResponseError) throw result;
      // When it cannot be made durable, the answer says so instead of "accepted".
      if (!services.syncJournal()) {
        services.protocolError('not_durable');
        throw new ResponseError(
          ErrorCodes.NotDurable,
          "the daemon took this in but could not make it durable (its journal cannot be written; see daemon/status journalFailure): it is exported unless the daemon dies first; sending it again may send it twice",
          result,
        );
      }
      return result;
    }),
  );
}
