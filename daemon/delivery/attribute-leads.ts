/**
 * What a record's attributes begin with, for the OTLP writers (json-wire.ts, protobuf-wire.ts):
 * an event's session context, the same object for every event of its session (`lead` on the
 * lanes' records, whose `attributes` are what follows it, none under one of its keys). A writer
 * copies the lead's KeyValues as it wrote them the first time, instead of writing each.
 */

/** A lead's own keys in `Object.keys` order, and their values. */
export interface Lead {
  readonly keys: readonly string[];
  readonly values: readonly unknown[];
}

const hasOwn = Object.prototype.hasOwnProperty;
const leads = new WeakMap<object, Lead>();

export function leadOf(lead: Readonly<Record<string, unknown>>): Lead {
  let known = leads.get(lead);
  if (known === undefined) {
    const keys: string[] = [];
    const values: unknown[] = [];
    for (const key in lead) {
      if (!hasOwn.call(lead, key)) continue;
      keys.push(key);
      values.push(lead[key]);
    }
    leads.set(lead, (known = { keys, values }));
  }
  return known;
}

