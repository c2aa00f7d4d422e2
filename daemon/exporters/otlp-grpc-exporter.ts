/**
 * OTLP/gRPC metric export. `@grpc/grpc-js` and the exporter are loaded only when this exporter
 * is configured, so a daemon that writes files never pays for them.
 */
import { AggregationTemporality, type PushMetricExporter } from '@opentelemetry/sdk-metrics';

export interface OtlpGrpcExporterOptions {
  readonly endpoint: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Upper bound on one export call, retries of the exporter included. */
  readonly timeoutMillis: number;
}

export async function createOtlpGrpcMetricExporter(options: OtlpGrpcExporterOptions): Promise<PushMetricExporter> {
  const [{ OTLPMetricExporter }, grpc] = await Promise.all([
    import('@opentelemetry/exporter-metrics-otlp-grpc'),
    import('@grpc/grpc-js'),
  ]);
  const metadata = new grpc.Metadata();
  for (const [name, value] of Object.entries(options.headers)) metadata.set(name.toLowerCase(), value);
  return new OTLPMetricExporter({
    url: options.endpoint,
    metadata,
    timeoutMillis: options.timeoutMillis,
    // Codex exports delta: each export carries what changed since the previous one.
    temporalityPreference: AggregationTemporality.DELTA,
  });
}
