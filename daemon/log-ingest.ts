/**
 * Ingests log records an OpenTelemetry SDK exported over OTLP (daemon/otlp/): an unmodified
 * Codex's `codex.user_prompt`, `codex.tool_result`, ... as it logs them. Each keeps its
 * time, severity, body, event name, attributes and span context, under its sender's resource and
 * scope; the daemon adds nothing and derives nothing (the sender records its own metrics).
 *
 *   record --> privacy: the catalog's redacted fields (`prompt`; tool `arguments`, `output`)
 *          become [REDACTED] unless the config allows them --> log lane, under the sender's resource
 *
 * This is the same rule as for session events, minus the session's own say: a sender has no
 * session here, and an SDK that sent a prompt had its own config allow it.
 */
import type { Attributes } from '@opentelemetry/api';

import { redactedFields } from '../protocol/index.js';
import { type EventPolicy, REDACTED } from './event-split.js';
import type { EventLanes } from './event-lanes.js';
import type { HostResource } from './host-resources.js';
import type { LogEntry } from './lane-records.js';
import type { SignalStats } from './stats.js';

export interface LogIngestOptions {
  readonly lanes: EventLanes;
  readonly logStats: SignalStats;
  /** Read per batch: a reload of the config may change it. */
  readonly policy: () => EventPolicy;
}

export interface LogIngest {
  /** Takes the records; `malformed` ones the decoder refused are counted here. */
  ingestOtlp(resources: readonly { readonly resource: HostResource; readonly scopes: readonly { readonly items: readonly LogEntry[] }[] }[], malformed: number): { accepted: number; refused: number };
  /** Fields redacted, by name. */
  counts(): { readonly redacted: Readonly<Record<string, number>> };
}

export function createLogIngest(options: LogIngestOptions): LogIngest {
  const { lanes, logStats } = options;
  const redactions = redactedFields();
  const redacted = new Map<string, number>();

  function privacy(attributes: Attributes, policy: EventPolicy): Attributes {
    let out: Attributes | null = null;
    for (const key in attributes) {
      const redaction = redactions.get(key);
      if (redaction === undefined) continue;
      if (redaction === 'user_prompt' ? policy.logUserPrompt : policy.logToolContent) continue;
      out ??= { ...attributes };
      out[key] = REDACTED;
      redacted.set(key, (redacted.get(key) ?? 0) + 1);
    }
    return out ?? attributes;
  }

  return {
    ingestOtlp(resources, malformed) {
      let received = malformed;
      for (const { scopes } of resources) for (const { items } of scopes) received += items.length;
      logStats.received(received);
      if (malformed > 0) logStats.rejected('invalid_log_record', malformed);
      const policy = options.policy();
      let accepted = 0;
      let refused = 0;
      for (const { resource, scopes } of resources) {
        for (const { items } of scopes) {
          for (const record of items) {
            if (lanes.emitLog({ ...record, attributes: privacy(record.attributes, policy) }, resource).full) refused++;
            else accepted++;
          }
        }
      }
      return { accepted, refused };
    },
    counts: () => ({ redacted: Object.fromEntries(redacted) }),
  };
}
