/**
 * The embedded default exporter: OTLP JSON lines, one export request per line (the format the
 * OpenTelemetry Collector's file exporter writes), in a size-capped folder on this machine.
 * Nothing leaves the machine until the user configures a network exporter.
 */
import { appendFile, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { JsonMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { AggregationTemporality, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';

const NEWLINE = Buffer.from('\n');

export interface FileExporterOptions {
  readonly dir: string;
  /** The file is rotated before a write would take it past this size. */
  readonly maxFileBytes: number;
  /** Files kept, the current one included; the oldest beyond this is deleted. */
  readonly maxFiles: number;
}

/** `metrics.jsonl` is the file being written; `metrics.1.jsonl` is the one before it, and so on. */
export function metricsFileName(generation: number): string {
  return generation === 0 ? 'metrics.jsonl' : `metrics.${generation}.jsonl`;
}

/**
 * Creates the file exporter. It asks for delta temporality, as Codex's exporters do, so each
 * line holds only what changed since the line before. Does not create the folder until the
 * first export.
 */
export function createFileMetricExporter(options: FileExporterOptions): PushMetricExporter {
  const current = join(options.dir, metricsFileName(0));
  let size = -1;
  let queue: Promise<unknown> = Promise.resolve();
  let closed = false;

  async function rotate(): Promise<void> {
    await rm(join(options.dir, metricsFileName(options.maxFiles - 1)), { force: true });
    for (let generation = options.maxFiles - 2; generation >= 0; generation--) {
      await rename(join(options.dir, metricsFileName(generation)), join(options.dir, metricsFileName(generation + 1))).catch(
        (error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
        },
      );
    }
    size = 0;
  }

  async function write(line: Uint8Array): Promise<void> {
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
    export(metrics: ResourceMetrics, resultCallback: (result: ExportResult) => void): void {
      if (closed) {
        resultCallback({ code: ExportResultCode.FAILED, error: new Error('file exporter is shut down') });
        return;
      }
      const line = JsonMetricsSerializer.serializeRequest(metrics);
      if (line === undefined) {
        resultCallback({ code: ExportResultCode.FAILED, error: new Error('metrics could not be serialised as OTLP JSON') });
        return;
      }
      // Writes are chained so lines never interleave and rotation sees a settled size.
      queue = queue
        .then(() => write(line))
        .then(
          () => resultCallback({ code: ExportResultCode.SUCCESS }),
          (error: unknown) => resultCallback({ code: ExportResultCode.FAILED, error: error instanceof Error ? error : new Error(String(error)) }),
        );
    },
    forceFlush(): Promise<void> {
      return queue.then(() => undefined);
    },
    shutdown(): Promise<void> {
      closed = true;
      return queue.then(() => undefined);
    },
    selectAggregationTemporality(): AggregationTemporality {
      return AggregationTemporality.DELTA;
    },
  };
}
