/**
 * What the OTLP receivers share, whatever the transport (HTTP, gRPC): whether the daemon takes an
 * export now, and taking one: decode, hand to the signal's ingest (span-ingest, log-ingest) under
 * each resource as sent, count by sender, make it durable. The transports only map the outcome
 * to their own statuses.
 */
import type { HostResource, HostResources } from '../host-resources.js';
import type { LogIngest } from '../log-ingest.js';
import type { MemoryGate } from '../memory-limiter.js';
import type { SpanIngest } from '../span-ingest.js';
import type { DecodedRequest } from './decode-common.js';
import { decodeLogsJson, decodeLogsRequest } from './decode-logs.js';
import { decodeTraceJson, decodeTraceRequest } from './decode-traces.js';
import { encodeBytesField, encodeVarint, ProtobufError } from '../protobuf.js';

export type OtlpSignal = 'traces' | 'logs';

/** How an export went; each transport answers it with its own status. */
export type ExportOutcome =
  /** Taken; `rejected` items were not (malformed, or a full lane), as `message` says. */
  | { readonly kind: 'ok'; readonly rejected: number; readonly message: string }
  /** Not an OTLP export request of this signal. */
  | { readonly kind: 'invalid'; readonly message: string }
  /** Over the memory limit, stopping, or the journal cannot be written: send it again later. */
  | { readonly kind: 'retry'; readonly reason: 'memory' | 'stopping' | 'not_durable'; readonly message: string };

export interface OtlpExportIngest {
  /** Before a body is read: a `retry` outcome when the daemon takes nothing now, else null. */
  admit(): Extract<ExportOutcome, { kind: 'retry' }> | null;
  take(signal: OtlpSignal, bytes: Uint8Array, format: 'protobuf' | 'json'): ExportOutcome;
  counts(): { readonly spansBySender: Readonly<Record<string, number>>; readonly spansRefused: Readonly<Record<string, number>>; readonly logsBySender: Readonly<Record<string, number>>; readonly logsRefused: Readonly<Record<string, number>> };
}

export interface OtlpExportIngestOptions {
  readonly spans: SpanIngest;
  readonly logs: LogIngest;
  readonly resources: HostResources;
  readonly memory: MemoryGate;
  /** Makes what was taken in durable before the answer; false when the journal cannot be written. */
  syncJournal(): boolean;
  isShuttingDown(): boolean;
}

const bump = (map: Map<string, number>, key: string, by = 1): void => void map.set(key, (map.get(key) ?? 0) + by);

/** The sender of a resource, as status lists it. */
const senderOf = (resource: Readonly<Record<string, unknown>>): string => (typeof resource['service.name'] === 'string' ? resource['service.name'] : 'unknown_service');

/**
 * An `ExportTraceServiceResponse` or `ExportLogsServiceResponse` (the same shape) in protobuf:
 * empty, or with a partial success (field 1: rejected_spans or rejected_log_records = 1,
 * error_message = 2).
 */
export function exportResponse(rejected: number, message: string): Buffer {
  if (rejected === 0) return Buffer.alloc(0);
  const partial = Buffer.concat([Buffer.from([0x08, ...encodeVarint(rejected)]), encodeBytesField(2, Buffer.from(message, 'utf8'))]);
  return encodeBytesField(1, partial);
}

export function createOtlpExportIngest(options: OtlpExportIngestOptions): OtlpExportIngest {
  const bySender = { traces: new Map<string, number>(), logs: new Map<string, number>() };
  const refused = { traces: new Map<string, number>(), logs: new Map<string, number>() };

  /** Hands what a request decoded to its ingest, each resource as the registry holds it; counts it by sender. */
  function take<T>(signal: OtlpSignal, decoded: DecodedRequest<T>, ingest: (resources: { resource: HostResource; scopes: DecodedRequest<T>['resources'][number]['scopes'] }[], malformed: number) => { refused: number }): number {
    const resolved = decoded.resources.map(({ resource, scopes }) => ({ resource: options.resources.exact(resource), scopes }));
    const { refused: full } = ingest(resolved, decoded.rejected);
    for (const { resource, scopes } of decoded.resources) {
      const items = scopes.reduce((sum, scope) => sum + scope.items.length, 0);
      if (items > 0) bump(bySender[signal], senderOf(resource), items);
    }
    if (decoded.rejected > 0) bump(refused[signal], signal === 'traces' ? 'invalid_span' : 'invalid_log_record', decoded.rejected);
    if (full > 0) bump(refused[signal], 'queue_full', full);
    return full;
  }

  return {
    admit() {
      if (options.isShuttingDown()) return { kind: 'retry', reason: 'stopping', message: 'codexd is stopping; send again to the next daemon' };
      if (options.memory.holding()) return { kind: 'retry', reason: 'memory', message: 'codexd is over its memory limit; send again later' };
      return null;
    },
    take(signal, bytes, format) {
      let decoded: DecodedRequest<unknown>;
      let full: number;
      try {
        const parsed: unknown = format === 'json' ? JSON.parse(Buffer.from(bytes).toString('utf8')) : null;
        if (signal === 'traces') {
          const traces = format === 'json' ? decodeTraceJson(parsed) : decodeTraceRequest(bytes);
          full = take(signal, traces, options.spans.ingestOtlp);
          decoded = traces;
        } else {
          const logs = format === 'json' ? decodeLogsJson(parsed) : decodeLogsRequest(bytes);
          full = take(signal, logs, options.logs.ingestOtlp);
          decoded = logs;
        }
      } catch (error) {
        if (error instanceof ProtobufError || error instanceof SyntaxError) return { kind: 'invalid', message: `the body is not an OTLP ${signal === 'traces' ? 'trace' : 'logs'} export request: ${error.message}` };
        throw error;
      }
      // The answer says the data is the daemon's: on disk first. When it cannot be, the sender
      // is asked to send again (a duplicate is better than a loss it was told was none).
      if (!options.syncJournal()) return { kind: 'retry', reason: 'not_durable', message: 'codexd could not make this durable (its journal cannot be written); send again' };
      const rejected = decoded.rejected + full;
      if (rejected === 0) return { kind: 'ok', rejected: 0, message: '' };
      const what = signal === 'traces' ? 'spans' : 'log records';
      const parts = [decoded.rejected > 0 ? `${decoded.rejected} malformed (${decoded.firstProblem ?? ''})` : '', full > 0 ? `${full} refused: the ${signal === 'traces' ? 'trace' : 'log'} lane is full` : ''];
      return { kind: 'ok', rejected, message: `${what}: ${parts.filter(Boolean).join('; ')}` };
    },
    counts: () => ({
      spansBySender: Object.fromEntries(bySender.traces),
      spansRefused: Object.fromEntries(refused.traces),
      logsBySender: Object.fromEntries(bySender.logs),
      logsRefused: Object.fromEntries(refused.logs),
    }),
  };
}
