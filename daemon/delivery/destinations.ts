/**
 * Where each signal's batches go: per signal, the configured exporter, the export queue and
 * sender in front of it, and the route the pipelines' exporters read at each export. A reload
 * points a signal somewhere else through {@link Destinations.apply}:
 *
 *   same wire format (gRPC <-> OTLP/HTTP protobuf, a new endpoint, headers or TLS; a new file
 *   folder): the queue stays and only its sender changes, so what waits in memory or on disk,
 *   and a send that fails on the wire, goes to the new destination.
 *
 *   another format (protobuf <-> JSON, file <-> network, on <-> off): a new queue takes new
 *   batches; the old one sends what it holds to the old destination within the flush deadline
 *   and spills the rest to its spool, which the next queue of that format sends.
 *
 * Nothing accepted is lost on the way: a batch is in one queue or one spool, or counted.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

import type { OtherSpool, QueueStatus, Signal } from '../../protocol/index.js';
import type { DeliveryConfig, ExporterConfig } from '../config.js';
import type { DiskConditions } from '../disk-conditions.js';
import type { SignalStats } from '../stats.js';
import { createExportQueue, type ExportQueue } from './export-queue.js';
import { createFileSender } from './file-sender.js';
import { createGrpcSender } from './grpc-sender.js';
import { createHttpSender } from './http-sender.js';
import type { Route, WireFormat } from './queued-exporters.js';
import { openSegmentSpool } from './segment-spool.js';
import type { Sender } from './sender.js';

/**
 * The format batches are serialised in, and where they may go: a spool holds one kind, so a
 * change of exporter never sends protobuf where JSON is expected, nor what was meant for the
 * local file to a collector.
 */
export type SpoolKind = 'file' | 'otlp-protobuf' | 'otlp-json';

export function spoolKindOf(exporter: ExporterConfig): SpoolKind | null {
  switch (exporter.kind) {
    case 'none':
      return null;
    case 'file':
      return 'file';
    case 'otlp-grpc':
      return 'otlp-protobuf';
    case 'otlp-http':
      return exporter.protocol === 'json' ? 'otlp-json' : 'otlp-protobuf';
  }
}

function formatOf(kind: SpoolKind): WireFormat {
  return kind === 'otlp-protobuf' ? 'protobuf' : 'json';
}

/** What a call to {@link Destinations.apply} did. */
export type DestinationChange = 'unchanged' | 'sender' | 'queue';

export interface DestinationsOptions {
  /** The state folder: spools go under `spool/<signal>/<kind>/`. */
  readonly stateDir: string;
  readonly delivery: DeliveryConfig;
  /** Longest one send may take unless the exporter sets its own timeout; also what a retiring queue gets to send. */
  readonly flushDeadlineMs: number;
  readonly statsOf: (signal: Signal) => SignalStats;
  readonly onError: (message: string) => void;
  /** Where failing writes of the spools and the file exporter are kept for status. */
  readonly disk?: DiskConditions;
  /** Told when a replaced queue has sent what it could and spilled the rest. */
  readonly onRetired?: (signal: Signal, kind: SpoolKind, spooled: number) => void;
}

export interface Destinations {
  /** The route a signal's exporter reads at each export; the same object for the daemon's life. */
  route(signal: Signal): Route;
  /** The signal's exporter as configured now. */
  exporter(signal: Signal): ExporterConfig;
  /** The queue of the signal's exporter, if its export is on. */
  queueStatus(signal: Signal): QueueStatus | undefined;
  /** Points the signal at `exporter` (the first call opens it). Calls for one signal must not overlap. */
  apply(signal: Signal, exporter: ExporterConfig): Promise<DestinationChange>;
  /** Every queue: the signals' own, and replaced ones still sending what they hold. */
  queues(): ExportQueue[];
  /** The signal's spools that no queue sends now, with what they hold. */
  otherSpools(signal: Signal): OtherSpool[];
  /** Sends and spills within the deadline (epoch ms), every queue; then closes the senders. */
  shutdown(deadline: number): Promise<void>;
}

interface Open {
  readonly kind: SpoolKind;
  readonly queue: ExportQueue;
  sender: Sender;
}

interface MutableRoute {
  queue: ExportQueue | null;
  format: WireFormat;
  readonly maxRequestBytes: number;
  disabled(records: number): void;
}

/** How long what other spools hold is taken as current. */
const OTHER_SPOOLS_TTL_MS = 1000;

export function createDestinations(options: DestinationsOptions): Destinations {
  const routes = new Map<Signal, MutableRoute>();
  const configs = new Map<Signal, ExporterConfig>();
  const open = new Map<Signal, Open>();
  /** Replaced queues still sending, by signal and kind, until their stop ends. */
  const retiring = new Map<string, { queue: ExportQueue; done: Promise<void> }>();
  let stopping = false;
  /** What {@link Destinations.otherSpools} found, per signal, and when. */
  const otherSpoolsRead = new Map<Signal, { readonly at: number; readonly found: OtherSpool[] }>();

  function routeOf(signal: Signal): MutableRoute {
    let route = routes.get(signal);
    if (route === undefined) {
      route = { queue: null, format: 'protobuf', maxRequestBytes: options.delivery.maxRequestBytes, disabled: (records) => options.statsOf(signal).failed(records, 'exporter_disabled') };
      routes.set(signal, route);
    }
    return route;
  }

  function timeoutOf(exporter: ExporterConfig): number {
    return (exporter.kind === 'otlp-grpc' || exporter.kind === 'otlp-http' ? exporter.timeoutMs : undefined) ?? options.flushDeadlineMs;
  }

  async function senderFor(signal: Signal, exporter: ExporterConfig): Promise<Sender> {
    switch (exporter.kind) {
      case 'none':
        throw new Error('no sender for an exporter that is off');
      case 'file':
        return createFileSender(signal, { dir: exporter.dir, maxFileBytes: exporter.maxFileBytes, maxFiles: exporter.maxFiles, ...(options.disk === undefined ? {} : { disk: options.disk }) });
      case 'otlp-grpc':
        return createGrpcSender({ signal, endpoint: exporter.endpoint, headers: exporter.headers, ...(exporter.tls === undefined ? {} : { tls: exporter.tls }) });
      case 'otlp-http':
        return createHttpSender({
          signal,
          endpoint: exporter.endpoint,
          headers: exporter.headers,
          protocol: exporter.protocol,
          ...(exporter.tls === undefined ? {} : { tls: exporter.tls }),
          ...(exporter.exactUrl === true ? { exactUrl: true } : {}),
        });
    }
  }

  /** Lets a replaced queue send what it holds within the flush deadline and spill the rest. */
  function retire(signal: Signal, entry: Open): void {
    const key = `${signal}/${entry.kind}`;
    const spooledBefore = entry.queue.status().spooled;
    const done = entry.queue.shutdown(Date.now() + options.flushDeadlineMs).then(() => {
      entry.sender.close();
      if (retiring.get(key)?.queue === entry.queue) {
        retiring.delete(key);
        otherSpoolsRead.clear();
      }
      options.onRetired?.(signal, entry.kind, entry.queue.status().spooled - spooledBefore);
    });
    retiring.set(key, { queue: entry.queue, done });
  }

  return {
    route: routeOf,
    exporter: (signal) => configs.get(signal) ?? { kind: 'none' },
    queueStatus: (signal) => open.get(signal)?.queue.status(),

    async apply(signal, exporter) {
      if (stopping) throw new Error('the daemon is stopping');
      const before = configs.get(signal);
      if (before !== undefined && JSON.stringify(before) === JSON.stringify(exporter)) return 'unchanged';
      const route = routeOf(signal);
      const current = open.get(signal) ?? null;
      const kind = spoolKindOf(exporter);
      if (current !== null && kind === current.kind) {
        // Same format: the queue keeps what it holds and sends it to the new destination.
        const sender = await senderFor(signal, exporter);
        if (stopping) {
          sender.close();
          throw new Error('the daemon is stopping');
        }
        const old = current.sender;
        current.sender = sender;
        configs.set(signal, exporter);
      // Which spools are this daemon's own changed with it.
      otherSpoolsRead.clear();
        await current.queue.setSender(sender, timeoutOf(exporter));
        old.close();
        return 'sender';
      }
      let next: Open | null = null;
      if (kind !== null) {
        // A queue of this kind replaced a moment ago spills into the spool this one sends from:
        // it finishes first, so that the new queue finds all of it.
        await retiring.get(`${signal}/${kind}`)?.done;
        const sender = await senderFor(signal, exporter);
        // A stop that began meanwhile shuts down the queues it found: this one would be left out.
        if (stopping) {
          sender.close();
          throw new Error('the daemon is stopping');
        }
        const spoolDir = join(options.stateDir, 'spool', signal, kind);
        const queue = createExportQueue({
          signal,
          sender,
          stats: options.statsOf(signal),
          spool: openSegmentSpool(spoolDir, options.delivery.spoolMaxBytes),
          maxMemoryBytes: options.delivery.queueMaxBytes,
          retry: { initialMs: options.delivery.retryInitialMs, maxMs: options.delivery.retryMaxMs },
          sendTimeoutMs: timeoutOf(exporter),
          onError: options.onError,
          onSpoolWrite(error, records) {
            if (error === null) options.disk?.succeeded('export_spool', spoolDir);
            else options.disk?.failed('export_spool', spoolDir, error, `${signal} batches that had to leave memory are dropped (spool_failed; ${records} records with the last)`);
          },
        });
        next = { kind, queue, sender };
      }
      // The switch is one step: no export sees the signal without a destination in between.
      configs.set(signal, exporter);
      // Which spools are this daemon's own changed with it.
      otherSpoolsRead.clear();
      route.queue = next?.queue ?? null;
      if (next !== null) route.format = formatOf(next.kind);
      if (next === null) open.delete(signal);
      else open.set(signal, next);
      if (current !== null) retire(signal, current);
      return 'queue';
    },

    otherSpools(signal) {
      // Read for every status: a status polled every few milliseconds under load made these
      // folder reads a good part of the daemon's work. What other spools hold changes slowly.
      const cached = otherSpoolsRead.get(signal);
      const now = Date.now();
      if (cached !== undefined && now - cached.at < OTHER_SPOOLS_TTL_MS && now >= cached.at) return cached.found;
      const found = readOtherSpools(signal);
      otherSpoolsRead.set(signal, { at: now, found });
      return found;
    },

    queues: () => [...[...open.values()].map((entry) => entry.queue), ...[...retiring.values()].map((entry) => entry.queue)],

    async shutdown(deadline) {
      stopping = true;
      await Promise.all([...[...open.values()].map((entry) => entry.queue.shutdown(deadline)), ...[...retiring.values()].map((entry) => entry.done)]);
      for (const entry of open.values()) entry.sender.close();
    },
  };

  function readOtherSpools(signal: Signal): OtherSpool[] {
    const root = join(options.stateDir, 'spool', signal);
      const inUse = new Set([open.get(signal)?.kind, ...[...retiring.keys()].filter((key) => key.startsWith(`${signal}/`)).map((key) => key.slice(signal.length + 1))]);
      let kinds: string[];
      try {
        kinds = readdirSync(root).filter((name) => !inUse.has(name as SpoolKind));
      } catch {
        return [];
      }
      const found: OtherSpool[] = [];
      for (const kind of kinds.sort()) {
        let segments = 0;
        let bytes = 0;
        try {
          for (const name of readdirSync(join(root, kind))) {
            if (!name.endsWith('.seg')) continue;
            segments++;
            bytes += statSync(join(root, kind, name)).size;
          }
        } catch {
          // Not a folder, or gone meanwhile.
        }
        if (segments > 0) found.push({ kind, segments, bytes });
      }
      return found;
  }
}
