/**
 * What the client did not send, by kind of telemetry and reason: the totals `stats()` shows, and
 * the counts the daemon has not been told of yet, which ride the next batch of their kind (its
 * `dropped`) or a hand-off file. A count taken for a batch that is never sent is put back.
 *
 * One ledger holds every kind; the kinds differ only in the key under which a drop is reported
 * to the host (once per kind of problem) and in whether the daemon hears of them at all.
 */

/** The kinds of telemetry whose drops the daemon is told of, with the batch that carries them. */
export type DropKind = 'records' | 'events' | 'spans';
/** `spanParts`: parts of spans left out (bad attributes, events, links); counted here only, never sent. */
export type LedgerKind = DropKind | 'spanParts';

export type DropCounts = Readonly<Record<string, number>>;

/** How a kind's drops are reported to the host: `onError` once per key, the key being the prefix and the reason. */
const REPORT_PREFIX: Readonly<Record<LedgerKind, string>> = { records: '', events: 'event_', spans: 'span_', spanParts: 'span_part_' };

export interface DropLedger {
  /**
   * Counts `count` items of `kind` dropped for `reason` and reports `message` once per kind and
   * reason. The daemon is told of it with the next batch of that kind (never for `spanParts`).
   */
  drop(kind: LedgerKind, reason: string, count: number, message: string): void;
  /** Counts a drop in the totals alone: no report, and the daemon is not told (`not_sampled`). */
  countOnly(kind: LedgerKind, reason: string, count: number): void;
  /** Takes the counts of `kind` the daemon has not been told of, for a batch; `undefined` when there are none. */
  takeUnreported(kind: DropKind): DropCounts | undefined;
  /** Puts back counts taken for a batch that was not sent after all. */
  restore(kind: DropKind, counts: DropCounts | undefined): void;
  /** True when `kind` has counts the daemon has not been told of. */
  hasUnreported(kind: DropKind): boolean;
  /**
   * The counts of every kind the daemon has not been told of, for a hand-off file; they stay
   * until {@link clearUnreported} (the file may fail to be written).
   */
  unreported(): Readonly<Record<DropKind, DropCounts | undefined>>;
  /** Forgets the unreported counts once a hand-off file carries them. */
  clearUnreported(): void;
  /** Everything dropped of `kind` since the client was created, by reason. */
  totals(kind: LedgerKind): DropCounts;
}

function add(into: Map<string, number>, reason: string, count: number): void {
  into.set(reason, (into.get(reason) ?? 0) + count);
}

/** Creates an empty ledger; `report(key, message)` is the client's once-per-key report to the host. */
export function createDropLedger(report: (key: string, message: string) => void): DropLedger {
  const totals: Record<LedgerKind, Map<string, number>> = { records: new Map(), events: new Map(), spans: new Map(), spanParts: new Map() };
  const unreported: Record<DropKind, Map<string, number>> = { records: new Map(), events: new Map(), spans: new Map() };

  const snapshot = (counts: Map<string, number>): DropCounts | undefined => (counts.size > 0 ? Object.fromEntries(counts) : undefined);

  return {
    drop(kind, reason, count, message) {
      add(totals[kind], reason, count);
      if (kind !== 'spanParts') add(unreported[kind], reason, count);
      report(`${REPORT_PREFIX[kind]}${reason}`, message);
    },
    countOnly(kind, reason, count) {
      add(totals[kind], reason, count);
    },
    takeUnreported(kind) {
      const taken = snapshot(unreported[kind]);
      unreported[kind].clear();
      return taken;
    },
    restore(kind, counts) {
      if (counts === undefined) return;
      for (const [reason, count] of Object.entries(counts)) add(unreported[kind], reason, count);
    },
    hasUnreported: (kind) => unreported[kind].size > 0,
    unreported: () => ({ records: snapshot(unreported.records), events: snapshot(unreported.events), spans: snapshot(unreported.spans) }),
    clearUnreported() {
      for (const counts of Object.values(unreported)) counts.clear();
    },
    totals: (kind) => Object.fromEntries(totals[kind]),
  };
}
