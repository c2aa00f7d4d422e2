/**
 * The journal's requests: behind a collector slower than what arrives, the lanes' records wait
 * serialised in their export queues' memory. A journal line whose records are all settled or in
 * requests a queue holds is dropped (journal-lines.ts asks {@link JournalCover}), and those
 * requests are written in its place, as they are, each once, in frames of their own
 * (journal-frames.ts): a copy of bytes already made, where the line cost JSON text for each
 * record again.
 *
 *   line dropped for requests --> to write: the requests its records are in (and where they start)
 *   next write --> the ones their queue holds still: framed, then noted as written
 *              \-> the others were sent, refused or spilled meanwhile: settled, left out
 */
import type { Signal } from '../../protocol/index.js';
import { encodeRequestFrame, type JournaledRequest } from './journal-frames.js';
import type { JournalCounts, JournalCover } from './journal-lines.js';
import type { WireFormat } from './queued-exporters.js';

/** A request an export queue holds: its bytes, and how many records it stands for. */
export interface HeldRequest {
  readonly bytes: Uint8Array;
  readonly records: number;
}

/** The requests one signal's export queue holds in memory, unsent, in the order of their records. */
export interface HeldRequests {
  readonly format: WireFormat;
  /** Oldest first: the first one's records start at the signal's settled count. */
  readonly requests: readonly HeldRequest[];
  /** Records of `requests`. */
  readonly records: number;
  /** Whether it holds `request` still (not yet sent, refused or spilled), whatever it held since. */
  holds(request: HeldRequest): boolean;
}

export interface RequestCover {
  readonly cover: JournalCover;
  /**
   * The frames of the requests to write now, one part behind the other; `written()` once they
   * are on their way to disk (a write that fails leaves them unwritten, as it leaves its lines),
   * which says how many they were.
   */
  take(): { readonly parts: Uint8Array[]; written(): number };
}

const LANE_SIGNALS = ['logs', 'traces'] as const;

export function createRequestCover(counts: JournalCounts, held: (signal: 'logs' | 'traces') => HeldRequests | null): RequestCover {
  /**
   * Requests whose records lines were dropped for, to write at the next write if their queue
   * holds them still (else their records settled), with the queue that held them.
   */
  const toWrite = new Map<HeldRequest, { readonly request: JournaledRequest; readonly queue: HeldRequests }>();
  /** Requests written: each goes in once. */
  const written = new WeakSet<HeldRequest>();

  const cover: JournalCover = {
    through(signal: Signal) {
      const settled = counts.settled(signal);
      if (signal === 'metrics') return settled;
      const queue = held(signal);
      return queue === null ? settled : settled + queue.records;
    },
    dropped(line, settled) {
      for (const signal of LANE_SIGNALS) {
        // None of its records is of this signal, or all of them have settled.
        if (line.end[signal] <= Math.max(line.start[signal], settled[signal])) continue;
        const queue = held(signal);
        if (queue === null) continue;
        // The requests its records are in (those before are not its to write).
        let start = settled[signal];
        for (const request of queue.requests) {
          if (start >= line.end[signal]) break;
          if (start + request.records > line.start[signal] && !written.has(request) && !toWrite.has(request)) {
            toWrite.set(request, { request: { signal, format: queue.format, start, records: request.records, bytes: request.bytes }, queue });
          }
          start += request.records;
        }
      }
    },
  };

  return {
    cover,
    take() {
      const parts: Uint8Array[] = [];
      const taken: HeldRequest[] = [];
      for (const [one, { request, queue }] of toWrite) {
        // Sent, refused or spilled since: settled, and its memory may hold another request now.
        if (!queue.holds(one)) continue;
        parts.push(...encodeRequestFrame(request));
        taken.push(one);
      }
      toWrite.clear();
      return {
        parts,
        written() {
          for (const one of taken) written.add(one);
          return taken.length;
        },
      };
    },
  };
}
