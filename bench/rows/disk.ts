/**
 * Row 13 of `npm run bench`: what the daemon writes to disk on a healthy day (the collector up),
 * against the size of the data it was given.
 *
 *   13   one Codex session at a typical rate (bench/fixtures/session-rate-client.mjs: a step of a
 *        turn every 5 s): bytes the daemon sent to the disk per accepted record and per session
 *        event, and their ratio to the bytes the host wrote to its socket
 *   13b  the same at a heavier rate: 4 sessions, a step a second each
 *   13c  the typical rate, per hour: bytes to disk, write calls, the journal's writes and syncs
 *
 * Bytes sent to the disk are `write_bytes` of /proc/<pid>/io (pages the process dirtied: a
 * 100-byte append to a page already written back is a 4 KiB page again) less
 * `cancelled_write_bytes` (dirty pages dropped before they were written back: a journal file
 * deleted while the kernel still held its lines). Every record must reach the receiver.
 *
 * bench/run.ts calls {@link rowDisk} and renders {@link diskDoc}.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { DaemonStatus } from '../../dist/protocol/index.js';
import { check, log, problems, rows } from '../lib/checks.ts';
import { startClientGroup } from '../lib/client-group.ts';
import { createBenchEnv, FIXTURES, startDaemon } from '../lib/daemon.ts';
import { lastJsonLine } from '../lib/processes.ts';
import { loadReceiverModule } from '../lib/receiver.ts';
import { fmt } from '../lib/report.ts';

/** The target of issue 16, item 3: no more bytes to the disk than the data's own, on average. */
const TARGET_RATIO = 1;
const HOUR_MS = 3_600_000;

/** One rate the row runs: `clients` sessions, a step each every `stepMs`, for `seconds`. */
export interface DiskRate {
  readonly name: 'typical' | 'heavier';
  readonly clients: number;
  readonly stepMs: number;
  readonly seconds: number;
}

export function diskConfig(quick: boolean): readonly DiskRate[] {
  return [
    { name: 'typical', clients: 1, stepMs: 5000, seconds: quick ? 15 : 45 },
    { name: 'heavier', clients: 4, stepMs: 1000, seconds: quick ? 6 : 20 },
  ];
}

/** The fields of /proc/<pid>/io the row reads. */
interface Io {
  readonly wchar: number;
  readonly syscw: number;
  readonly writeBytes: number;
  readonly cancelledWriteBytes: number;
}

function ioOf(pid: number): Io {
  const text = readFileSync(`/proc/${pid}/io`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { wchar: field('wchar'), syscw: field('syscw'), writeBytes: field('write_bytes'), cancelledWriteBytes: field('cancelled_write_bytes') };
}

/** What session-rate-client.mjs prints as it ends. */
interface SessionReport {
  readonly steps: number;
  readonly events: number;
  readonly spans: number;
  readonly toolResults: number;
  readonly values: number;
  readonly wireBytes: number;
  readonly stats: { dropped: Record<string, number>; events: { dropped: Record<string, number> }; spans: { dropped: Record<string, number> } };
}

type Sent = Record<'steps' | 'events' | 'spans' | 'toolResults' | 'values', number>;

export interface DiskRun {
  readonly rate: DiskRate;
  readonly sent: Sent;
  /** Records the daemon accepted: metric measurements, log records, spans (`signals.*.accepted`). */
  readonly accepted: number;
  /** Bytes the hosts wrote to the daemon's socket: the records as sent, framing included. */
  readonly wireBytes: number;
  /** The daemon's /proc/<pid>/io over the window, from "go" until the journal held no file. */
  readonly io: Io;
  /** The journal's own counts over the window (`daemon/status` `journal`). */
  readonly journal: { writes: number; writtenBytes: number; syncs: number };
  readonly spoolBytes: number;
  readonly windowMs: number;
  readonly delivered: boolean;
}

/** Bytes that reached the disk over the window. */
export const diskBytes = (run: DiskRun): number => run.io.writeBytes - run.io.cancelledWriteBytes;
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
/** A run's count scaled to an hour at its rate (by steps: the window's drain adds none). */
const perHour = (run: DiskRun, value: number): number => (value / run.sent.steps) * (HOUR_MS / run.rate.stepMs) * run.rate.clients;

async function measure(rate: DiskRate): Promise<DiskRun> {
  const receiver = await (await loadReceiverModule()).module.startOtlpReceiver();
  // The daemon's defaults but for the collector: its export interval (5 s), queues and journal.
  const bench = createBenchEnv({ otlpEndpoint: receiver.endpoint, codexd: { export_interval_ms: 5000 } });
  const daemon = await startDaemon(bench);
  try {
    const group = await startClientGroup(bench, { count: rate.clients, args: (index) => [join(FIXTURES, 'session-rate-client.mjs'), String(rate.seconds), String(rate.stepMs), String(index)], ignoreStdinErrors: false });
    const ioBefore = ioOf(daemon.pid);
    const journalBefore = (await daemon.status()).journal;
    const started = Date.now();
    for (const child of group.clients) child.stdin?.end('go\n');
    const reports: SessionReport[] = [];
    for (const outcome of await group.exits) {
      if (outcome.code === 0) reports.push(lastJsonLine<SessionReport>(outcome.stdout));
      else problems.push(`row 13 (${rate.name}): a session client exited with ${outcome.code ?? outcome.signal}: ${outcome.stderr.slice(-500)}`);
    }
    const sent: Sent = { steps: 0, events: 0, spans: 0, toolResults: 0, values: 0 };
    for (const report of reports) for (const key of Object.keys(sent) as (keyof Sent)[]) sent[key] += report[key];
    const wireBytes = reports.reduce((sum, report) => sum + report.wireBytes, 0);

    // Everything delivered and the journal empty of files: the whole cost of the data is in the window.
    const expectedSpans = sent.events + sent.spans;
    await receiver
      .waitFor(() => receiver.spans().length >= expectedSpans && receiver.logRecords().length >= sent.events && receiver.sumOf('codex.tool.call') >= sent.toolResults, 60_000, 'every span, log record and tool call')
      .catch(() => undefined);
    let status: DaemonStatus.Result = await daemon.status();
    const drainUntil = Date.now() + 30_000;
    while (status.journal.bytes > 0 && Date.now() < drainUntil) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await daemon.status();
    }
    const ioAfter = ioOf(daemon.pid);
    const windowMs = Date.now() - started;

    const hostDrops = reports.flatMap((report) => [report.stats.dropped, report.stats.events.dropped, report.stats.spans.dropped]).filter((dropped) => Object.keys(dropped).length > 0);
    const received = {
      toolCalls: receiver.sumOf('codex.tool.call'),
      turnValues: receiver.histogramTotals('codex.turn.e2e_duration_ms').count + receiver.histogramTotals('codex.turn.ttft.duration_ms').count,
      logs: receiver.logRecords().length,
      spans: receiver.spans().length,
    };
    const daemonLost = Object.values(status.signals).reduce((sum, counts) => sum + counts.droppedTotal + counts.rejectedTotal, 0);
    const delivered = reports.length === rate.clients && hostDrops.length === 0 && daemonLost === 0 && received.toolCalls === sent.toolResults && received.turnValues === sent.values && received.logs === sent.events && received.spans === expectedSpans;
    check(
      delivered,
      `row 13 (${rate.name}): ${rate.clients} session(s) sent ${fmt.count(sent.steps)} steps: ${fmt.count(sent.events)} session events, ${fmt.count(sent.spans)} spans and ${fmt.count(sent.values)} turn histogram values; ` +
        `the receiver took ${fmt.count(received.logs)} log records, ${fmt.count(received.spans)} spans (expected ${fmt.count(expectedSpans)}: one per event and each host span), ${fmt.count(received.turnValues)} turn values and ${fmt.count(received.toolCalls)} derived \`codex.tool.call\` increments (expected ${fmt.count(sent.toolResults)}, one per tool result); ` +
        `the hosts dropped ${JSON.stringify(hostDrops)}, the daemon dropped or rejected ${daemonLost}; the journal held ${fmt.count(status.journal.bytes)} bytes at the end`,
    );
    return {
      rate,
      sent,
      accepted: status.signals.metrics.accepted + status.signals.logs.accepted + status.signals.traces.accepted,
      wireBytes,
      io: { wchar: ioAfter.wchar - ioBefore.wchar, syscw: ioAfter.syscw - ioBefore.syscw, writeBytes: ioAfter.writeBytes - ioBefore.writeBytes, cancelledWriteBytes: ioAfter.cancelledWriteBytes - ioBefore.cancelledWriteBytes },
      journal: { writes: status.journal.writes - journalBefore.writes, writtenBytes: status.journal.writtenBytes - journalBefore.writtenBytes, syncs: status.journal.syncs - journalBefore.syncs },
      spoolBytes: status.exporters.reduce((sum, exporter) => sum + (exporter.queue?.spooledBytes ?? 0), 0),
      windowMs,
      delivered,
    };
  } finally {
    await daemon.stop();
    await receiver.close();
  }
}

export interface DiskDetails {
  readonly runs: readonly DiskRun[];
}

/** Row 13: the typical rate, then the heavier one, each on a fresh daemon and receiver. */
export async function rowDisk(quick: boolean): Promise<DiskDetails> {
  const runs: DiskRun[] = [];
  for (const rate of diskConfig(quick)) {
    log(`row 13: disk, ${rate.clients} session(s), a step every ${rate.stepMs} ms each, ${rate.seconds} s, collector up`);
    runs.push(await measure(rate));
  }
  const [typical, heavier] = runs as [DiskRun, DiskRun];
  for (const [id, run] of [['13', typical], ['13b', heavier]] as const) {
    const bytes = diskBytes(run);
    const ratio = bytes / run.wireBytes;
    rows.push({
      id,
      what: `disk, ${run.rate.clients === 1 ? 'one Codex session' : `${run.rate.clients} Codex sessions`}, a step every ${run.rate.stepMs / 1000} s, collector up: bytes written`,
      measured: `${(bytes / run.accepted).toFixed(1)} B/record, ${(bytes / run.sent.events).toFixed(0)} B/event`,
      baseline: `the data as sent: ${(run.wireBytes / run.accepted).toFixed(1)} B/record, ${(run.wireBytes / run.sent.events).toFixed(0)} B/event`,
      comparison: fmt.ratio(ratio),
      target: `≤ ${TARGET_RATIO.toFixed(2)}×, none lost`,
      met: ratio <= TARGET_RATIO && run.delivered,
    });
  }
  const dropped = typical.io.cancelledWriteBytes / typical.io.writeBytes;
  rows.push({
    id: '13c',
    what: 'same as 13, per hour',
    measured: `${mib(perHour(typical, diskBytes(typical)))} to disk; journal: ${fmt.count(Math.round(perHour(typical, typical.journal.writes)))} writes, ${fmt.count(Math.round(perHour(typical, typical.journal.syncs)))} syncs; ${fmt.count(Math.round(perHour(typical, typical.io.syscw)))} write calls in all (sockets included)`,
    baseline: `the data as sent: ${mib(perHour(typical, typical.wireBytes))}`,
    comparison: `journal files: ${mib(perHour(typical, typical.journal.writtenBytes))} written (${fmt.ratio(typical.journal.writtenBytes / typical.wireBytes)} the data); ${(dropped * 100).toFixed(0)}% of the pages dirtied dropped unwritten`,
    target: '—',
    met: null,
  });
  return { runs };
}

/** Section 13 of docs/benchmarks.md. */
export function diskDoc(details: DiskDetails): string[] {
  const [typical, heavier] = details.runs as [DiskRun, DiskRun];
  const describe = (run: DiskRun): string =>
    `${run.rate.clients} session${run.rate.clients === 1 ? '' : 's'} for ${run.rate.seconds} s (${fmt.count(run.sent.steps)} steps, ${fmt.count(run.sent.events)} events, ${fmt.count(run.sent.spans)} host spans; the daemon accepted ${fmt.count(run.accepted)} records): ` +
    `the hosts wrote ${fmt.count(run.wireBytes)} bytes to the socket; the journal wrote ${fmt.count(run.journal.writtenBytes)} bytes into its files in ${fmt.count(run.journal.writes)} writes and synced ${fmt.count(run.journal.syncs)} times, the spools ${fmt.count(run.spoolBytes)} bytes; ` +
    `the daemon dirtied ${fmt.count(run.io.writeBytes)} bytes of pages, ${fmt.count(run.io.cancelledWriteBytes)} of them dropped unwritten, so ${fmt.count(diskBytes(run))} reached the disk (${fmt.ratio(diskBytes(run) / run.wireBytes)} the data), over a window of ${(run.windowMs / 1000).toFixed(1)} s; ` +
    `${fmt.count(run.io.syscw)} write calls of every kind (sockets included: the exports, the answers) for ${fmt.count(run.io.wchar)} bytes`;
  return [
    '### 13. Disk on a healthy day',
    '',
    `Each rate on a fresh daemon with its defaults (the journal, its 2 s rotation, an export every 5 s) but for the collector: every signal exported over OTLP/gRPC to a real receiver in the benchmark process (test/support/otlp-receiver.ts), which stays up. ` +
      'The hosts are real client processes (bench/fixtures/session-rate-client.mjs, the bundled client): each names its resource, starts a session with Codex\'s context and, after "go", makes one step of a Codex turn every few seconds, a step being one model response and the tools it calls: ' +
      'the 16 session events of row 6 (one `codex.api_request`, then `codex.sse_event`s and `codex.tool_result`s with ~200 characters of output, alternating), each at its own moment over the first half of the step, from which the daemon derives the API request, SSE and tool-call metrics Codex records in process; ' +
      'then the 16 spans of row 8\'s turn tree and two turn histograms (`codex.turn.e2e_duration_ms`, `codex.turn.ttft.duration_ms`). Nothing is flushed by hand: the client writes each moment\'s records on its own. ' +
      `Typical (13): one session, a step every ${typical.rate.stepMs / 1000} s (a model response streamed over a few seconds, then its tool calls; ${fmt.count(HOUR_MS / typical.rate.stepMs)} steps an hour). Heavier (13b): ${heavier.rate.clients} sessions at once (a TUI, an app-server, sub-agents), a step every ${heavier.rate.stepMs / 1000} s each, ${fmt.count((HOUR_MS / heavier.rate.stepMs) * heavier.rate.clients)} steps an hour.`,
    '',
    'The data\'s own size is what the hosts wrote to the daemon\'s socket: the JSON-RPC notifications carrying the records, framing included (each client\'s `wchar` from /proc/self/io as it ends; it writes nothing else). ' +
      'What the daemon wrote to disk is read from /proc/<daemon pid>/io over the window, from "go" until every record had reached the receiver and the journal held no file: `write_bytes` counts every page the process dirtied (a page already written back and dirtied again counts again, file-system metadata dirtied in its name included) and `cancelled_write_bytes` the dirty pages dropped unwritten because their file was deleted; their difference is what the disk was given. ' +
      'The journal\'s own counts (`daemon/status` `journal`: its write calls, the bytes they wrote, its `fdatasync` calls) say what it handed to its files. Per record: per record the daemon accepted (metric measurements, log records and spans: each event is a log record and a span); per event: per session event sent. ' +
      'Row 13c scales the typical run to an hour by its steps. What /proc does not show: the file system\'s own journal (ext4\'s jbd2 writes inodes and directories for the files the journal creates and deletes, 2 s apart while records arrive), which is written by a kernel thread.',
    '',
    `13 (typical): ${describe(typical)}. 13b (heavier): ${describe(heavier)}.`,
    '',
    'Why so little reaches the disk: the journal writes every 200 ms what was accepted (a daemon killed after that loses none of it), but syncs only before a request\'s answer or once a record has waited 10 s unexported (PROTOCOL.md section 10.1), and a write under 64 KiB goes compressed against the file\'s earlier lines. ' +
      'With the collector up, records are exported within the export interval and their files deleted, most of their pages while the kernel still holds them. ' +
      'What reaches the disk anyway is pages the kernel wrote back before their file went (how soon it does depends on the file system and on what else the machine writes), `settled.json` rewritten in place, and metadata of the files created and deleted; a page written back and then appended to is dirtied, and counted, again. ' +
      'Syncing every 200 ms tick that had a line, as the journal did before, wrote the file\'s last page again at every tick: several times the data at the typical rate.',
  ];
}
