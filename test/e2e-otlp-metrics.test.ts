/**
 * Metrics over OTLP: what an OpenTelemetry SDK aggregated and exported to codexd (OTLP/HTTP
 * protobuf and JSON, OTLP/gRPC through the SDK's own exporter) reaches a collector as the same
 * SDK exporting straight to it would have it arrive: every point's kind, temporality, monotonic
 * flag, value (int or double), bucket bounds and counts, exponential scale and offsets, min, max,
 * start and end times to the nanosecond, under its sender's resource; two senders with the same
 * series are never merged. Both runs are decoded by the same real OTLP/gRPC receiver and compared
 * whole.
 */
import { readFileSync } from 'node:fs';

import { Metadata } from '@grpc/grpc-js';
import { ValueType } from '@opentelemetry/api';
import { type ExportResult, ExportResultCode } from '@opentelemetry/core';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { JsonMetricsSerializer, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationTemporality, AggregationType, MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { describe, expect, it } from 'vitest';

import { decodeMetricsRequest } from '../daemon/otlp/decode-metrics.js';
import { ProtobufError } from '../daemon/protobuf.js';
import { type DaemonProcess, grpcConfig, runCli, type TestHome } from './support/daemon.js';
import { useHarness } from './support/harness.js';
import type { MetricPoint, OtlpReceiver } from './support/otlp-receiver.js';

class CollectingReader extends MetricReader {
  protected override onForceFlush = (): Promise<void> => Promise.resolve();
  protected override onShutdown = (): Promise<void> => Promise.resolve();
}

/**
 * One collection of a session's metrics as an SDK makes them, of every kind OTLP has but the
 * legacy summary: an int counter, a double up-down counter, an int gauge, a histogram with its
 * own bounds, an exponential histogram; with `temporality` for the sums and histograms.
 */
async function sdkMetrics(serviceName: string, temporality: AggregationTemporality): Promise<ResourceMetrics> {
  const reader = new CollectingReader({ aggregationTemporalitySelector: () => temporality });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName, 'service.version': '0.171.0', os: 'linux' }),
    readers: [reader],
    views: [{ instrumentName: 'codex.tokens', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = provider.getMeter('codex_otel', '0.171.0');
  const turns = meter.createCounter('codex.turns', { valueType: ValueType.INT, description: 'turns run' });
  turns.add(3, { model: 'gpt-5' });
  turns.add(2, { model: 'o3' });
  const active = meter.createUpDownCounter('codex.active_tasks');
  active.add(1.5, { kind: 'shell' });
  active.add(-0.25, { kind: 'shell' });
  meter.createGauge('codex.queue_depth', { valueType: ValueType.INT }).record(7, { queue: 'tools' });
  const duration = meter.createHistogram('codex.turn.duration_ms', { unit: 'ms', advice: { explicitBucketBoundaries: [10, 100, 1000] } });
  for (const value of [5, 50, 500, 5000, 12.5]) duration.record(value, { model: 'gpt-5' });
  const tokens = meter.createHistogram('codex.tokens');
  for (const value of [1, 2, 3, 100, 4096, 0]) tokens.record(value, { direction: 'input' });
  const { resourceMetrics } = await reader.collect();
  await provider.shutdown();
  return resourceMetrics;
}

/** Points in one order, whatever order their requests arrived in. */
function sorted(points: readonly MetricPoint[]): MetricPoint[] {
  const key = (point: MetricPoint): string => `${String(point.resource['service.name'])} ${point.name} ${JSON.stringify(point.attributes)}`;
  return [...points].sort((a, b) => key(a).localeCompare(key(b)));
}

/** Each sum or gauge by name with how its values were written (`as_int` or `as_double`): points() reads both as numbers. */
function valueTypes(receiver: OtlpReceiver): Record<string, string> {
  const types: Record<string, string> = {};
  const walk = (value: unknown, name: string): void => {
    if (Array.isArray(value)) for (const item of value) walk(item, name);
    else if (typeof value === 'object' && value !== null) {
      const record = value as Record<string, unknown>;
      const own = typeof record.name === 'string' && 'data' in record ? record.name : name;
      if (typeof record.value === 'string' && record.value.startsWith('as_')) types[name] = record.value;
      for (const child of Object.values(record)) walk(child, own);
    }
  };
  walk(receiver.metricsRequests, '');
  return types;
}

const exported = (exporter: OTLPMetricExporter, metrics: ResourceMetrics): Promise<ExportResult> => new Promise((resolve) => exporter.export(metrics, resolve));

describe('metrics over OTLP', () => {
  const harness = useHarness();
  let home: TestHome | undefined;
  let receiver: OtlpReceiver | undefined;
  let straight: OtlpReceiver | undefined;
  let daemon: DaemonProcess | undefined;

  it('passes an SDK\'s metrics on as the SDK exports them straight: every kind, both temporalities, ints and doubles, times to the nanosecond, each sender apart', async () => {
    ({ home, receiver } = await harness.homeWithReceiver());
    straight = await harness.receiver();
    home.writeConfig(`${grpcConfig(receiver.endpoint, 60_000)}\n[codexd.otlp_receiver]\nhttp = "127.0.0.1:0"\ngrpc = "127.0.0.1:0"\n`);
    daemon = await harness.daemon();
    const otlp = (await daemon.status()).otlpReceiver;
    const token = readFileSync(otlp?.tokenFile as string, 'utf8').trim();
    const headers = { authorization: `Bearer ${token}` };

    // Three senders with the same series: cumulative over HTTP protobuf, delta over HTTP JSON,
    // cumulative over the SDK's own OTLP/gRPC exporter.
    const exec = await sdkMetrics('codex_exec', AggregationTemporality.CUMULATIVE);
    const tui = await sdkMetrics('codex_tui', AggregationTemporality.DELTA);
    const server = await sdkMetrics('codex_app_server', AggregationTemporality.CUMULATIVE);
    const direct = new OTLPMetricExporter({ url: straight.endpoint });
    for (const metrics of [exec, tui, server]) expect((await exported(direct, metrics)).code).toBe(ExportResultCode.SUCCESS);
    await direct.shutdown();

    const protobuf = await fetch(`http://${otlp?.http}/v1/metrics`, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-protobuf' }, body: ProtobufMetricsSerializer.serializeRequest(exec) as Uint8Array });
    expect(protobuf.status).toBe(200);
    expect((await protobuf.arrayBuffer()).byteLength).toBe(0);
    const json = await fetch(`http://${otlp?.http}/v1/metrics`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JsonMetricsSerializer.serializeRequest(tui) as Uint8Array });
    expect(json.status).toBe(200);
    expect(await json.json()).toEqual({});
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    const viaGrpc = new OTLPMetricExporter({ url: `http://${otlp?.grpc}`, metadata });
    expect((await exported(viaGrpc, server)).code).toBe(ExportResultCode.SUCCESS);
    await viaGrpc.shutdown();

    const points = straight.points().length;
    expect(points).toBe(3 * 6);
    await daemon.request('daemon/flush', {});
    const behind = receiver;
    await behind.waitFor(() => behind.points().length >= points, 10_000, `${points} points through codexd`);
    expect(sorted(behind.points())).toEqual(sorted(straight.points()));
    // What the comparison covers, said outright: the kinds and temporalities were there to compare.
    const kinds = new Set(behind.points().map((point) => `${point.kind}/${point.temporality ?? '-'}`));
    expect(kinds).toEqual(new Set(['sum/cumulative', 'sum/delta', 'gauge/-', 'histogram/cumulative', 'histogram/delta', 'exponential_histogram/cumulative', 'exponential_histogram/delta']));
    expect(behind.points().find((point) => point.name === 'codex.turn.duration_ms')?.explicitBounds).toEqual([10, 100, 1000]);
    expect(valueTypes(behind)).toEqual(valueTypes(straight));
    expect(valueTypes(behind)).toEqual({ 'codex.turns': 'as_int', 'codex.active_tasks': 'as_double', 'codex.queue_depth': 'as_int' });

    const status = await daemon.status();
    expect(status.otlpReceiver).toMatchObject({ metricPointsBySender: { codex_exec: 6, codex_tui: 6, codex_app_server: 6 }, metricPointsRefused: {}, grpcRequests: { OK: 1 } });
    expect(status.signals.metrics).toMatchObject({ received: 18, accepted: 18, exported: 18, rejectedTotal: 0, droppedTotal: 0 });
    expect((await runCli(home, ['status'])).stdout).toMatch(/18 metric points taken \(codex_exec 6, codex_tui 6, codex_app_server 6\)/);
  }, 40_000);

  it('refuses what it cannot pass on faithfully, by data point, and passes on the rest', async () => {
    ({ home, receiver } = await harness.homeWithReceiver());
    home.writeConfig(`${grpcConfig(receiver.endpoint)}\n[codexd.otlp_receiver]\nhttp = "127.0.0.1:0"\n`);
    daemon = await harness.daemon();
    const otlp = (await daemon.status()).otlpReceiver;
    const headers = { authorization: `Bearer ${readFileSync(otlp?.tokenFile as string, 'utf8').trim()}`, 'content-type': 'application/json' };
    const point = (value: number) => ({ startTimeUnixNano: '1764866698000000000', timeUnixNano: '1764866699123456789', asDouble: value, attributes: [{ key: 'queue', value: { stringValue: 'tools' } }] });
    const body = {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'codex_exec' } }] },
          scopeMetrics: [
            {
              scope: { name: 'codex_otel' },
              metrics: [
                { name: 'legacy.latency', summary: { dataPoints: [{ count: '2', sum: 3 }, { count: '1', sum: 1 }] } },
                { name: 'codex.unspecified', sum: { dataPoints: [point(1)], isMonotonic: true } },
                { name: 'codex.bad_buckets', histogram: { aggregationTemporality: 1, dataPoints: [{ count: '3', bucketCounts: ['1', '2'], explicitBounds: [1, 2, 3] }] } },
                { name: 'codex.queue_depth', gauge: { dataPoints: [point(4), point(5)] } },
              ],
            },
          ],
        },
      ],
    };
    const answer = await fetch(`http://${otlp?.http}/v1/metrics`, { method: 'POST', headers, body: JSON.stringify(body) });
    expect(answer.status).toBe(200);
    const partial = ((await answer.json()) as { partialSuccess: { rejectedDataPoints: string; errorMessage: string } }).partialSuccess;
    expect(partial.rejectedDataPoints).toBe('4');
    expect(partial.errorMessage).toContain('data points: 4 malformed (metric "legacy.latency": summaries are not passed on');
    const garbage = await fetch(`http://${otlp?.http}/v1/metrics`, { method: 'POST', headers: { ...headers, 'content-type': 'application/x-protobuf' }, body: new Uint8Array([0x0a, 0xff, 0xff, 0x01]) });
    expect(garbage.status).toBe(400);
    expect(((await garbage.json()) as { message: string }).message).toContain('not an OTLP metrics export request');

    await daemon.request('daemon/flush', {});
    const at = receiver;
    await at.waitFor(() => at.points().length === 2, 10_000, 'the two gauge points');
    expect(at.points().map((got) => [got.name, got.kind, got.value, got.timeUnixNano])).toEqual([
      ['codex.queue_depth', 'gauge', 4, 1764866699123456789n],
      ['codex.queue_depth', 'gauge', 5, 1764866699123456789n],
    ]);
    const status = await daemon.status();
    expect(status.otlpReceiver).toMatchObject({ metricPointsBySender: { codex_exec: 2 }, metricPointsRefused: { invalid_metric: 4 }, requests: { '200': 1, '400': 1 } });
    expect(status.signals.metrics).toMatchObject({ received: 6, accepted: 2, rejectedTotal: 4 });
  }, 40_000);

  it('after kill -9, replays the metrics it answered 200 for, once, as they came', async () => {
    ({ home, receiver } = await harness.homeWithReceiver());
    straight = await harness.receiver();
    // Nothing is exported before the kill: the collection waits a minute.
    home.writeConfig(`${grpcConfig(receiver.endpoint, 60_000)}\n[codexd.otlp_receiver]\nhttp = "127.0.0.1:0"\n`);
    daemon = await harness.daemon();
    const otlp = (await daemon.status()).otlpReceiver;
    const headers = { authorization: `Bearer ${readFileSync(otlp?.tokenFile as string, 'utf8').trim()}`, 'content-type': 'application/x-protobuf' };
    const metrics = await sdkMetrics('codex_exec', AggregationTemporality.DELTA);
    const direct = new OTLPMetricExporter({ url: straight.endpoint });
    expect((await exported(direct, metrics)).code).toBe(ExportResultCode.SUCCESS);
    await direct.shutdown();
    expect((await fetch(`http://${otlp?.http}/v1/metrics`, { method: 'POST', headers, body: ProtobufMetricsSerializer.serializeRequest(metrics) as Uint8Array })).status).toBe(200);
    daemon.child.kill('SIGKILL');
    await daemon.exited;
    expect(receiver.points()).toHaveLength(0);

    daemon = await harness.daemon();
    await daemon.request('daemon/flush', {});
    const behind = receiver;
    await behind.waitFor(() => behind.points().length >= 6, 10_000, 'the replayed points');
    await daemon.request('daemon/flush', {});
    expect(sorted(behind.points())).toEqual(sorted(straight.points()));
  }, 40_000);
});

describe('OTLP metric decoding', () => {
  const harness = useHarness();
  it('decodes what the SDK serialises, and refuses every truncation of it with a ProtobufError, never another error', async () => {
    const bytes = ProtobufMetricsSerializer.serializeRequest(await sdkMetrics('codex_exec', AggregationTemporality.CUMULATIVE)) as Uint8Array;
    const whole = decodeMetricsRequest(bytes);
    expect(whole.rejected).toBe(0);
    expect(whole.resources[0]?.scopes[0]?.items.map((metric) => metric.descriptor.name).sort()).toEqual(['codex.active_tasks', 'codex.queue_depth', 'codex.tokens', 'codex.turn.duration_ms', 'codex.turns']);
    for (let cut = 1; cut < bytes.length; cut++) {
      try {
        decodeMetricsRequest(bytes.subarray(0, cut));
      } catch (error) {
        expect(error, `cut at ${cut}`).toBeInstanceOf(ProtobufError);
      }
    }
  });
});
