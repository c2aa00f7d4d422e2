/**
 * Proves the test receiver decodes what the real OTLP/gRPC metric exporter puts
 * on the wire, so end-to-end tests built on it are checking actual exports.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ValueType } from '@opentelemetry/api';
import { loggingErrorHandler, setGlobalErrorHandler } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
// The grpc exporter package does not re-export its options enum; it lives in the
// http package it builds on. (sdk-metrics' AggregationTemporality is the same
// value but a distinct enum type under the exporter's pinned sdk-metrics copy.)
import { AggregationTemporalityPreference } from '@opentelemetry/exporter-metrics-otlp-http';
import { connect } from 'node:http2';
import { startOtlpReceiver, type OtlpReceiver, WINDOW_BYTES } from './support/otlp-receiver.js';

const SERVICE_NAME = 'codexd-otlp-receiver-test';

let receiver: OtlpReceiver;
let providers: MeterProvider[] = [];
// The periodic reader swallows export failures and reports them only here.
let reportedErrors: unknown[] = [];

beforeEach(async () => {
  receiver = await startOtlpReceiver();
  reportedErrors = [];
  setGlobalErrorHandler((err) => reportedErrors.push(err));
});

afterEach(async () => {
  // Providers first: their shutdown flushes through the receiver.
  await Promise.allSettled(providers.map((p) => p.shutdown()));
  providers = [];
  await receiver.close();
  setGlobalErrorHandler(loggingErrorHandler());
});

function meterProvider(exporterTimeoutMillis = 5_000): MeterProvider {
  const exporter = new OTLPMetricExporter({
    url: receiver.endpoint,
    temporalityPreference: AggregationTemporalityPreference.DELTA,
    timeoutMillis: exporterTimeoutMillis,
  });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': SERVICE_NAME }),
    // Exports happen only on forceFlush, so each test controls exactly what is sent.
    readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })],
  });
  providers.push(provider);
  return provider;
}

function errorText(): string {
  return reportedErrors.map((e) => (e instanceof Error ? e.message : String(e))).join('\n');
}

describe('OTLP/gRPC test receiver', () => {
  it('decodes counters, histograms and gauges sent by the real exporter', async () => {
    const provider = meterProvider();
    const meter = provider.getMeter('codexd-test', '1.2.3');
    // INT so the counter travels as sfixed64 as_int, exercising the exact-long path.
    const calls = meter.createCounter('codex.tool.call', { unit: '{call}', valueType: ValueType.INT });
    const duration = meter.createHistogram('codex.tool.duration', { unit: 'ms' });
    const depth = meter.createGauge('codex.queue.depth');

    const before = BigInt(Date.now()) * 1_000_000n;
    for (let i = 0; i < 3; i++) calls.add(2, { tool: 'shell' });
    calls.add(5, { tool: 'read' });
    for (const ms of [10, 20, 30]) duration.record(ms, { tool: 'shell' });
    depth.record(7.5, { queue: 'events' });
    await provider.forceFlush();

    expect(errorText()).toBe('');
    expect(receiver.metricsRequests).toHaveLength(1);
    expect(receiver.sumOf('codex.tool.call', { tool: 'shell' })).toBe(6);
    expect(receiver.sumOf('codex.tool.call', { tool: 'read' })).toBe(5);
    expect(receiver.sumOf('codex.tool.call')).toBe(11);
    expect(receiver.histogramTotals('codex.tool.duration')).toEqual({ count: 3, sum: 60 });

    const points = receiver.points();
    const shell = points.find((p) => p.name === 'codex.tool.call' && p.attributes['tool'] === 'shell');
    expect(shell).toMatchObject({
      kind: 'sum',
      temporality: 'delta',
      monotonic: true,
      unit: '{call}',
      value: 6,
      scope: 'codexd-test',
    });
    expect(shell?.resource['service.name']).toBe(SERVICE_NAME);
    // fixed64 nanosecond timestamps must survive decoding exactly enough to be "now".
    expect(shell!.timeUnixNano).toBeGreaterThanOrEqual(before - 1_000_000_000n);
    expect(shell!.timeUnixNano).toBeLessThanOrEqual(BigInt(Date.now()) * 1_000_000n + 1_000_000_000n);
    expect(shell!.startTimeUnixNano).toBeLessThanOrEqual(shell!.timeUnixNano);

    const hist = points.find((p) => p.name === 'codex.tool.duration');
    expect(hist).toMatchObject({
      kind: 'histogram',
      temporality: 'delta',
      unit: 'ms',
      attributes: { tool: 'shell' },
      count: 3,
      sum: 60,
      min: 10,
      max: 30,
    });
    expect(hist!.bucketCounts!.reduce((a, b) => a + b, 0)).toBe(3);
    expect(hist!.bucketCounts).toHaveLength(hist!.explicitBounds!.length + 1);

    const gauge = points.find((p) => p.name === 'codex.queue.depth');
    expect(gauge).toMatchObject({ kind: 'gauge', value: 7.5, attributes: { queue: 'events' } });
    expect(gauge?.temporality).toBeUndefined();

    // Delta exports carry only what happened since the last one; sumOf adds them up.
    calls.add(1, { tool: 'shell' });
    await provider.forceFlush();
    expect(receiver.metricsRequests).toHaveLength(2);
    const secondExport = receiver.points().filter((p) => p.name === 'codex.tool.call' && p.attributes['tool'] === 'shell');
    expect(secondExport.map((p) => p.value)).toEqual([6, 1]);
    expect(receiver.sumOf('codex.tool.call', { tool: 'shell' })).toBe(7);
  });

  it('hands over each request once when consumed, one at a time between turns of the event loop', async () => {
    const provider = meterProvider();
    const calls = provider.getMeter('codexd-test').createCounter('codex.tool.call');
    for (let i = 1; i <= 4; i++) {
      calls.add(i);
      await provider.forceFlush();
    }
    // A read decodes what came so far: consume() hands those over first, then the rest.
    expect(receiver.metricsRequests).toHaveLength(4);
    for (const more of [10, 20]) {
      calls.add(more);
      await provider.forceFlush();
    }
    type Point = { as_double?: number; as_int?: string };
    type Request = { resource_metrics: { scope_metrics: { metrics: { sum: { data_points: Point[] } }[] }[] }[] };
    const order: string[] = [];
    let sum = 0;
    // A callback queued now runs after the first decode, before the next.
    setImmediate(() => order.push('turn'));
    await receiver.consume('metrics', (request) => {
      order.push('request');
      const points = (request as Request).resource_metrics[0]!.scope_metrics[0]!.metrics[0]!.sum.data_points;
      for (const point of points) sum += Number(point.as_int ?? point.as_double);
    });
    expect(sum).toBe(1 + 2 + 3 + 4 + 10 + 20);
    expect(order).toEqual(['request', 'request', 'request', 'request', 'request', 'turn', 'request']);
    // Forgotten once handed over.
    expect(receiver.metricsRequests).toHaveLength(0);
    await receiver.consume('metrics', () => order.push('again'));
    expect(order).not.toContain('again');
  });

  it("answers UNAVAILABLE and records nothing under 'unavailable', then recovers", async () => {
    receiver.setBehavior('unavailable');
    const provider = meterProvider();
    const calls = provider.getMeter('codexd-test').createCounter('codex.tool.call');

    calls.add(3, { tool: 'shell' });
    await provider.forceFlush();

    expect(errorText()).toMatch(/metrics export failed.*14 UNAVAILABLE/s);
    expect(receiver.rejectedCalls).toBe(1);
    expect(receiver.metricsRequests).toHaveLength(0);
    expect(receiver.points()).toEqual([]);

    receiver.setBehavior('ok');
    reportedErrors = [];
    calls.add(4, { tool: 'shell' });
    await provider.forceFlush();
    expect(errorText()).toBe('');
    // The rejected delta is gone for good; only the new export arrives.
    expect(receiver.sumOf('codex.tool.call', { tool: 'shell' })).toBe(4);
  });

  it("never answers under 'hang', so the exporter hits its deadline", async () => {
    receiver.setBehavior('hang');
    const provider = meterProvider(300);
    provider.getMeter('codexd-test').createCounter('codex.tool.call').add(1);

    await provider.forceFlush();

    expect(errorText()).toMatch(/metrics export failed.*DEADLINE_EXCEEDED/s);
    expect(receiver.hungCalls).toBe(1);
    expect(receiver.metricsRequests).toHaveLength(0);
  });

  it("grants a sender a collector's grown flow-control windows, per stream and per connection", async () => {
    const session = connect(receiver.endpoint);
    try {
      // The server's first SETTINGS carry Node's defaults; the windows follow in a SETTINGS frame and a WINDOW_UPDATE of their own.
      const deadline = Date.now() + 5_000;
      while (!(session.remoteSettings.initialWindowSize === WINDOW_BYTES && session.state.remoteWindowSize === WINDOW_BYTES) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect({ stream: session.remoteSettings.initialWindowSize, connection: session.state.remoteWindowSize }).toEqual({ stream: WINDOW_BYTES, connection: WINDOW_BYTES });
    } finally {
      session.destroy();
    }
  });

  it('reports what did arrive when waitFor times out', async () => {
    await expect(receiver.waitFor(() => receiver.sumOf('codex.never') > 0, 100, 'codex.never > 0')).rejects.toThrow(
      /waitFor for codex\.never > 0 timed out after 100 ms; behavior 'ok', requests received: metrics=0/,
    );
  });
});
