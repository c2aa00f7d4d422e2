/**
 * The OTLP receivers `[codexd.otlp_receiver]` asks for (HTTP, gRPC, or both), started together
 * over one export-ingest, with the token they share. A receiver that cannot listen (a port in
 * use) is logged and shown in status; the daemon serves its socket regardless.
 */
import { join } from 'node:path';

import type { Logger } from 'pino';

import type { OtlpReceiverStatus } from '../../protocol/index.js';
import type { OtlpReceiverConfig } from '../config.js';
import type { LogIngest } from '../log-ingest.js';
import { createOtlpExportIngest, type OtlpExportIngestOptions } from './export-ingest.js';
import { type OtlpHttpReceiver, startOtlpHttpReceiver } from './http-receiver.js';
import { loadOrCreateToken, TOKEN_FILE } from './token.js';

export interface OtlpReceivers {
  /** What status shows: null when no receiver is configured. */
  status(): OtlpReceiverStatus | null;
  /** Stops listening; calls under way are answered or cut off. */
  close(): Promise<void>;
}

export interface OtlpReceiversOptions extends OtlpExportIngestOptions {
  readonly config: OtlpReceiverConfig;
  /** The daemon's state folder, where the token lives. */
  readonly stateDir: string;
  readonly logs: LogIngest;
  readonly logger: Logger;
}

type Listening = { readonly address: string; requests(): Readonly<Record<string, number>>; close(): Promise<void> };

export async function startOtlpReceivers(options: OtlpReceiversOptions): Promise<OtlpReceivers> {
  const { config, logger } = options;
  if (config.http === null && config.grpc === null) return { status: () => null, close: () => Promise.resolve() };
  const tokenFile = config.requireToken ? join(options.stateDir, TOKEN_FILE) : null;
  const errors: string[] = [];
  let token: string | null = null;
  try {
    token = tokenFile === null ? null : loadOrCreateToken(tokenFile);
  } catch (error) {
    errors.push(`the token file: ${(error as Error).message}`);
    logger.error({ problem: errors[0] }, 'OTLP receivers not started');
  }
  const ingest = createOtlpExportIngest(options);
  let http: OtlpHttpReceiver | null = null;
  let grpc: Listening | null = null;
  if (errors.length === 0) {
    if (config.http !== null) {
      const { host, port } = config.http;
      try {
        http = await startOtlpHttpReceiver({ host, port, token, ingest, logger });
      } catch (error) {
        errors.push(`OTLP/HTTP cannot listen on ${host}:${port}: ${(error as Error).message}`);
      }
    }
    if (config.grpc !== null) {
      const { host, port } = config.grpc;
      try {
        // gRPC is loaded only by a daemon that serves it.
        const { startOtlpGrpcReceiver } = await import('./grpc-receiver.js');
        grpc = await startOtlpGrpcReceiver({ host, port, token, ingest, logger });
      } catch (error) {
        errors.push(`OTLP/gRPC cannot listen on ${host}:${port}: ${(error as Error).message}`);
      }
    }
    for (const problem of errors) logger.error({ problem }, 'OTLP receiver not started');
  }
  return {
    status: () => ({
      http: http?.address ?? null,
      grpc: grpc?.address ?? null,
      tokenFile,
      error: errors.length === 0 ? null : errors.join('; '),
      requests: http?.requests() ?? {},
      grpcRequests: grpc?.requests() ?? {},
      ...ingest.counts(),
      redacted: options.logs.counts().redacted,
    }),
    close: async () => {
      await Promise.all([http?.close(), grpc?.close()]);
    },
  };
}
