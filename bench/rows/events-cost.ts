/**
 * Row 6b of `npm run bench`: what one session event costs the host, `session.event()` and its
 * flush, against the in-process SDK emitting the same log record and span
 * (bench/fixtures/event-cost.mjs); checks what both sides delivered.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { check } from '../lib/checks.ts';
import { type BenchEnv, FIXTURES, ROOT, type RunningDaemon } from '../lib/daemon.ts';
import { delivered, laneDelta } from '../lib/lanes.ts';
import { lastJsonLine, runTimed } from '../lib/processes.ts';
import type { EventsConfig } from './events.ts';

export interface EventCostResult {
  readonly events: number;
  readonly chunk: number;
  readonly clientNs: number[];
  readonly sdkNs: number[];
  readonly sent: number;
  readonly dropped: Record<string, number>;
  readonly daemonFlushesIncomplete: number;
  readonly sdkEmitted: number;
  readonly sdkExported: { readonly logs: number; readonly spans: number };
}

/** Row 6b: bench/fixtures/event-cost.mjs against the running daemon; checks what both sides delivered. */
export async function measureEventCost(config: EventsConfig, bench: BenchEnv, daemon: RunningDaemon): Promise<EventCostResult> {
  const before = await daemon.status();
  const run = await runTimed(
    [join(FIXTURES, 'event-cost.mjs'), String(config.eventCostEvents), String(config.eventCostRounds), String(config.eventCostWarmup), String(config.eventChunk)],
    { env: bench.env, cwd: ROOT },
    300_000,
  );
  const result = lastJsonLine<EventCostResult>(run.stdout);
  // The client's close() has written everything; wait until the daemon has exported it too.
  let after = await daemon.status();
  for (let attempt = 0; attempt < 1000; attempt++) {
    if (after.signals.logs.received - before.signals.logs.received >= result.sent && after.signals.logs.buffered === 0 && after.signals.traces.buffered === 0) break;
    await sleep(10);
    after = await daemon.status();
  }
  const logs = laneDelta(delivered(before, 'logs'), delivered(after, 'logs'));
  const traces = laneDelta(delivered(before, 'traces'), delivered(after, 'traces'));
  check(
    Object.keys(result.dropped).length === 0 &&
      result.daemonFlushesIncomplete === 0 &&
      logs.received === result.sent &&
      logs.accepted === result.sent &&
      traces.accepted === result.sent &&
      logs.exported === logs.accepted &&
      traces.exported === traces.accepted &&
      Object.keys(logs.dropped).length + Object.keys(traces.dropped).length === 0,
    `row 6b: the client sent ${result.sent} events and dropped ${JSON.stringify(result.dropped)}; the daemon received ${logs.received}, accepted ${logs.accepted} log records and ${traces.accepted} spans, ` +
      `exported ${logs.exported} and ${traces.exported}, dropped ${JSON.stringify(logs.dropped)}/${JSON.stringify(traces.dropped)}; every \`daemon/flush\` between rounds completed (${result.daemonFlushesIncomplete} did not)`,
  );
  check(
    result.sdkExported.logs === result.sdkEmitted && result.sdkExported.spans === result.sdkEmitted,
    `row 6b: the in-process SDK's batch processors handed all of its ${result.sdkEmitted} log records and spans to the no-op exporters (${result.sdkExported.logs} and ${result.sdkExported.spans}): their queues never dropped`,
  );
  return result;
}

