import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ExportResultCode } from '@opentelemetry/core';
import { JsonMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';

import { createFileSender } from '../daemon/delivery/file-sender.js';
import type { Sender } from '../daemon/delivery/sender.js';

class ManualReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

async function sample(value: number): Promise<ResourceMetrics> {
  const reader = new ManualReader();
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'codexd' }), readers: [reader] });
  provider.getMeter('codex').createCounter('codex.test.calls').add(value, { tool: 'shell', pad: 'x'.repeat(200) });
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  return resourceMetrics;
}

/** One export as the daemon makes it: serialised once as OTLP JSON, then handed to the file sender. */
async function exportOnce(exporter: Sender, metrics: ResourceMetrics): Promise<number> {
  const outcome = await exporter.send(JsonMetricsSerializer.serializeRequest(metrics) as Uint8Array, 5000);
  return outcome.kind === 'ok' ? ExportResultCode.SUCCESS : ExportResultCode.FAILED;
}

describe('file exporter', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  it('writes one OTLP JSON export request per line, files 0600 in a 0700 folder', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cdx-file-'));
    const dir = join(root, 'telemetry');
    // The temporary folder goes, not only the exporter's folder in it.
    dirs.push(root);
    const exporter = createFileSender('metrics', { dir, maxFileBytes: 1 << 20, maxFiles: 2 });
    expect(await exportOnce(exporter, await sample(3))).toBe(ExportResultCode.SUCCESS);
    expect(await exportOnce(exporter, await sample(4))).toBe(ExportResultCode.SUCCESS);
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
    const values = lines.map((line) => {
      const point = (JSON.parse(line) as { resourceMetrics: { scopeMetrics: { metrics: { sum: { dataPoints: { asDouble?: number; asInt?: number }[] } }[] }[] }[] }).resourceMetrics[0]
        ?.scopeMetrics[0]?.metrics[0]?.sum.dataPoints[0];
      return point?.asDouble ?? point?.asInt;
    });
    expect(values).toEqual([3, 4]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'metrics.jsonl')).mode & 0o777).toBe(0o600);
    exporter.close();
    expect(await exportOnce(exporter, await sample(1))).toBe(ExportResultCode.FAILED);
  });

  it('rotates before a file passes its cap and keeps at most max_files', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cdx-file-'));
    const dir = join(root, 'telemetry');
    // The temporary folder goes, not only the exporter's folder in it.
    dirs.push(root);
    const exporter = createFileSender('metrics', { dir, maxFileBytes: 2000, maxFiles: 3 });
    for (let i = 1; i <= 20; i++) expect(await exportOnce(exporter, await sample(i))).toBe(ExportResultCode.SUCCESS);
    const files = readdirSync(dir).sort();
    expect(files).toEqual(['metrics.1.jsonl', 'metrics.2.jsonl', 'metrics.jsonl']);
    for (const file of files) expect(statSync(join(dir, file)).size).toBeLessThanOrEqual(2000);
    // The newest line is the last export, in the current file.
    const current = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(current.at(-1)).toContain('"asDouble":20');
  });
});
