/** `daemon/status`, `daemon/flush`, `daemon/reload`, `daemon/shutdown`: the daemon itself. */
import { DaemonFlush, DaemonReload, DaemonShutdown, DaemonStatus, ErrorCodes } from '../../protocol/index.js';
import { ResponseError } from 'vscode-jsonrpc/node';

import { ReloadError } from '../config.js';
import type { ConnectionContext } from './context.js';

export function registerControlHandlers(context: ConnectionContext): void {
  const { services, connection, handled } = context;
  connection.onRequest(
    DaemonStatus.method,
    handled(() => {
      context.requireInitialized();
      return services.status();
    }),
  );
  connection.onRequest(
    DaemonFlush.method,
    handled((params: unknown) => {
      context.requireInitialized();
      const timeoutMs = typeof params === 'object' && params !== null ? (params as { timeoutMs?: unknown }).timeoutMs : undefined;
      if (timeoutMs !== undefined && (typeof timeoutMs !== 'number' || !(timeoutMs > 0))) {
        services.protocolError('invalid_params');
        throw new ResponseError(ErrorCodes.InvalidParams, 'params.timeoutMs: must be a positive number of milliseconds');
      }
      return services.flush(timeoutMs, context.self);
    }),
  );
  connection.onRequest(
    DaemonReload.method,
    handled(async (): Promise<DaemonReload.Result> => {
      const client = context.requireInitialized();
      try {
        return await services.reload(`daemon/reload from ${client.name}`);
      } catch (error) {
        if (error instanceof ReloadError) throw new ResponseError(ErrorCodes.ReloadFailed, error.message);
        throw error;
      }
    }),
  );
  connection.onRequest(
    DaemonShutdown.method,
    handled((): DaemonShutdown.Result => {
      const client = context.requireInitialized();
      setImmediate(() => services.requestShutdown(`daemon/shutdown from ${client.name}`));
      return { draining: true, pid: process.pid };
    }),
  );
}
