/**
 * What `daemon/status` shows of each signal's exporter: its kind and where it sends (never a
 * credential), with its export queue's state and any spools no exporter sends now.
 */
import type { ExporterStatus } from '../../protocol/index.js';
import type { ExporterConfig } from '../config.js';
import type { Destinations } from '../delivery/destinations.js';

export interface DescribedExporter {
  readonly kind: ExporterStatus['kind'];
  readonly endpoint: string | null;
}

export function describeExporter(exporter: ExporterConfig): DescribedExporter {
  switch (exporter.kind) {
    case 'none':
      return { kind: 'none', endpoint: null };
    case 'file':
      return { kind: 'file', endpoint: exporter.dir };
    case 'otlp-grpc':
    case 'otlp-http': {
      // Credentials never reach status: keep only scheme, host, port and path.
      const url = new URL(exporter.endpoint);
      return { kind: exporter.kind, endpoint: `${url.protocol}//${url.host}${url.pathname === '/' ? '' : url.pathname}` };
    }
  }
}

/** An exporter's status with its queue's: a queue that keeps failing is what "failing" means now. */
export function withQueue(status: ExporterStatus, destinations: Destinations): ExporterStatus {
  const others = destinations.otherSpools(status.signal);
  const withOthers = others.length === 0 ? status : { ...status, otherSpools: others };
  const queue = destinations.queueStatus(status.signal);
  if (queue === undefined) return withOthers;
  return { ...withOthers, state: queue.failures > 0 ? 'failing' : status.state, lastError: queue.lastError ?? status.lastError, queue };
}
