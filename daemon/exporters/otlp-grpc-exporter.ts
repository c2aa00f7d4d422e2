/**
 * OTLP/gRPC export of each signal. `@grpc/grpc-js` and the exporters are loaded only when this
 * exporter is configured, so a daemon that writes files never pays for them.
 */
import type { LogRecordExporter } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { SpanExporter } from '@opentelemetry/sdk-trace';

export interface OtlpGrpcExporterOptions {
  readonly endpoint: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Upper bound on one export call, retries of the exporter included. */
  readonly timeoutMillis: number;
}

async function exporterOptions(options: OtlpGrpcExporterOptions): Promise<{ url: string; metadata: import('@grpc/grpc-js').Metadata; timeoutMillis: number }> {
  const grpc = await import('@grpc/grpc-js');
  const metadata = new grpc.Metadata();
  for (const [name, value] of Object.entries(options.headers)) metadata.set(name.toLowerCase(), value);
  return { url: options.endpoint, metadata, timeoutMillis: options.timeoutMillis };
}

export async function createOtlpGrpcMetricExporter(options: OtlpGrpcExporterOptions): Promise<PushMetricExporter> {
  const [{ OTLPMetricExporter }, base] = await Promise.all([import('@opentelemetry/exporter-metrics-otlp-grpc'), exporterOptions(options)]);
  // Codex exports delta: each export carries what changed since the previous one.
  return new OTLPMetricExporter({ ...base, temporalityPreference: AggregationTemporality.DELTA });
}

export async function createOtlpGrpcLogExporter(options: OtlpGrpcExporterOptions): Promise<LogRecordExporter> {
  const [{ OTLPLogExporter }, base] = await Promise.all([import('@opentelemetry/exporter-logs-otlp-grpc'), exporterOptions(options)]);
  return new OTLPLogExporter(base);
}

export async function createOtlpGrpcSpanExporter(options: OtlpGrpcExporterOptions): Promise<SpanExporter> {
  const [{ OTLPTraceExporter }, base] = await Promise.all([import('@opentelemetry/exporter-trace-otlp-grpc'), exporterOptions(options)]);
  return new OTLPTraceExporter(base);
}
