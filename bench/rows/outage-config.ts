/** Row 7's settings: the accelerated hour, the polls, and the `[codexd]` keys of its daemons. */
import { MIB } from './outage-result.ts';

export function outageConfig(quick: boolean) {
  return {
    /** Client processes, histogram records and session events they record in all, over this much wall time (the "hour"). */
    outageClients: 4,
    outageRecords: quick ? 100_000 : 1_000_000,
    outageEvents: quick ? 2000 : 10_000,
    outageRecordMs: quick ? 4000 : 20_000,
    /** The outage lasts this much longer than the recording (and at least 5 collections past the last record counted). */
    outageTailMs: 2000,
    /** Status, memory and folder sizes are polled this often during the outage, and during the drain. */
    outagePollMs: 50,
    drainPollMs: 20,
    /** From the recovery until every signal has sent everything, at most. */
    drainTimeoutMs: 60_000,
    /** Row 7e's `export_spool_max_bytes`: less than the hour's batches take (about 1 MiB per second of recording). */
    smallSpoolBytes: (quick ? 2 : 16) * MIB,
  };
}

export type OutageConfig = ReturnType<typeof outageConfig>;

/**
 * Row 7's `[codexd]` keys: collections every 200 ms, so batches keep coming during the outage;
 * a memory bound small enough that the accelerated hour's batches (≈ 1 MiB/s) pass it every
 * couple of seconds and spill; a spool that holds the whole hour; fast retries. Row 7e runs the
 * same hour with a spool too small for it.
 */
export const OUTAGE_DAEMON_CONFIG = {
  export_interval_ms: 200,
  export_queue_max_bytes: 2 * MIB,
  export_spool_max_bytes: 64 * MIB,
  export_retry_initial_ms: 100,
  export_retry_max_ms: 1000,
} as const;

/**
 * Row 7b's bound on the daemon's peak resident set during the outage: the queue bounds above, the
 * journal's few seconds of records, and what Node itself takes (about 55 MiB idle), with the
 * daemon's Node flags.
 */
export const OUTAGE_RSS_TARGET_BYTES = 150 * MIB;
