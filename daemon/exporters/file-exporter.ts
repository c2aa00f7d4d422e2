/**
 * The embedded default exporter: OTLP JSON lines, one export request per line (the format the
 * OpenTelemetry Collector's file exporter writes), one size-capped file series per signal in a
 * folder on this machine. Nothing leaves the machine until the user configures a network
 * exporter.
 */
import { appendFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { JsonLogsSerializer, JsonMetricsSerializer, JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { LogRecordExporter, ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

import type { Signal } from '../../protocol/index.js';
import type { Sender } from '../delivery/grpc-sender.js';

const NEWLINE = Buffer.from('\n');

export interface FileExporterOptions {
  readonly dir: string;
  /** The file is rotated before a write would take it past this size. */
  readonly maxFileBytes: number;
  /** Files kept per signal, the current one included; the oldest beyond this is deleted. */
  readonly maxFiles: number;
}

/** `metrics.jsonl` is the file being written; `metrics.1.jsonl` is the one before it, and so on. */
export function signalFileName(signal: Signal, generation: number): string {
  return generation === 0 ? `${signal}.jsonl` : `${signal}.${generation}.jsonl`;
}

interface LineWriter {
  /** Appends one line; `done` gets the outcome. Lines are written in call order. */
  write(line: Uint8Array | undefined, done: (result: ExportResult) => void): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

function failure(error: unknown): ExportResult {
  return { code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) };
}

/** The rotating JSON-lines file of one signal. Does not create the folder until the first line. */
function createLineWriter(signal: Signal, options: FileExporterOptions): LineWriter {
  const current = join(options.dir, signalFileName(signal, 0));
  let size = -1;
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;

  async function rotate(): Promise<void> {
    await rm(join(options.dir, signalFileName(signal, options.maxFiles - 1)), { force: true });
    for (let generation = options.maxFiles - 2; generation >= 0; generation--) {
      await rename(join(options.dir, signalFileName(signal, generation)), join(options.dir, signalFileName(signal, generation + 1))).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'ENOENT') throw error;
      });
    }
    size = 0;
  }

  async function append(line: Uint8Array): Promise<void> {
    if (size < 0) {
      await mkdir(options.dir, { recursive: true, mode: 0o700 });
      size = await stat(current).then(
        (info) => info.size,
        () => 0,
      );
    }
    if (size > 0 && size + line.byteLength + 1 > options.maxFileBytes) {
      if (options.maxFiles > 1) await rotate();
      else await rm(current, { force: true }).then(() => (size = 0));
    }
    await appendFile(current, Buffer.concat([line, NEWLINE]), { mode: 0o600 });
    size += line.byteLength + 1;
  }

  return {
    write(line, done) {
      if (closed) return done(failure(new Error(`${signal} file exporter is shut down`)));
      if (line === undefined) return done(failure(new Error(`${signal} could not be serialised as OTLP JSON`)));
      // Writes are chained so lines never interleave and rotation sees a settled size.
      queue = queue.then(() => append(line)).then(
        () => done({ code: ExportResultCode.SUCCESS }),
        (error: unknown) => done(failure(error)),
      );
    },
    forceFlush: () => queue.then(() => undefined),
    shutdown() {
      closed = true;
      return queue.then(() => undefined);
    },
  };
}

/**
 * The metrics file exporter. It asks for delta temporality, as Codex's exporters do, so each
 * line holds only what changed since the line before.
 */
export function createFileMetricExporter(options: FileExporterOptions): PushMetricExporter {
  const writer = createLineWriter('metrics', options);
  return {
    export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
      writer.write(JsonMetricsSerializer.serializeRequest(metrics), resultCallback);
    },
    forceFlush: writer.forceFlush,
    shutdown: writer.shutdown,
    selectAggregationTemporality: () => AggregationTemporality.DELTA,
  };
}

/**
 * The file as the sender behind an export queue: each batch, already serialised as one OTLP
 * JSON export request, becomes one line. A write that fails (a full disk) is retried.
 */
export function createFileSender(signal: Signal, options: FileExporterOptions): Sender {
  const writer = createLineWriter(signal, options);
  return {
    send: (bytes) =>
      new Promise((resolve) =>
        writer.write(bytes, (result) =>
          resolve(result.code === ExportResultCode.SUCCESS ? { kind: 'ok' } : { kind: 'retryable', message: result.error?.message ?? `${signal} file write failed`, retryAfterMs: null }),
        ),
      ),
    close: () => void writer.shutdown(),
  };
}

/** The log-lane file exporter (`logs.jsonl`). */
export function createFileLogExporter(options: FileExporterOptions): LogRecordExporter {
  const writer = createLineWriter('logs', options);
  return {
    export(logs: ReadableLogRecord[], resultCallback: (result: ExportResult) => void): void {
      writer.write(JsonLogsSerializer.serializeRequest(logs), resultCallback);
    },
    forceFlush: writer.forceFlush,
    shutdown: writer.shutdown,
  };
}

/** The trace-lane file exporter (`traces.jsonl`). */
export function createFileSpanExporter(options: FileExporterOptions): SpanExporter {
  const writer = createLineWriter('traces', options);
  return {
    export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
      writer.write(JsonTraceSerializer.serializeRequest(spans), resultCallback);
    },
    forceFlush: writer.forceFlush,
    shutdown: writer.shutdown,
  };
}
