/**
 * Loads the project's real OTLP/gRPC receiver (test/support/otlp-receiver.ts), which Node runs
 * directly by stripping its types.
 */
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

import { ROOT } from './daemon.ts';

/** The part of test/support/otlp-receiver.ts's OtlpReceiver the benchmark uses. */
export interface OtlpReceiver {
  readonly endpoint: string;
  readonly metricsRequests: unknown[];
  sumOf(name: string): number;
  close(): Promise<void>;
}

type ReceiverModule = { startOtlpReceiver(opts?: { port?: number }): Promise<OtlpReceiver> };

export async function loadReceiverModule(): Promise<{ module: ReceiverModule }> {
  return { module: (await import(pathToFileURL(join(ROOT, 'test/support/otlp-receiver.ts')).href)) as ReceiverModule };
}
