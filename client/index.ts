/**
 * codexd's thin client. It loads no OpenTelemetry package: hosts record through it and the
 * daemon does the exporting.
 *
 * ```ts
 * import { createClient } from 'codexd/client';
 * const telemetry = createClient({ clientInfo: { name: 'codex-cli', version: '1.0.0' } });
 * telemetry.counter('codex.tool.call', 1, { tool: 'shell', status: 'ok' });
 * await telemetry.close();
 * ```
 */
export {
  type ClientOptions,
  type ClientStats,
  createClient,
  type SessionHandle,
  type SessionOptions,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_MAX_BUFFERED_RECORDS,
  type Tags,
  type TelemetryClient,
  type Timer,
} from './telemetry-client.js';
