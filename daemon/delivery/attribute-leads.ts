/**
 * What a record's attributes begin with, for the OTLP writers (json-wire.ts, protobuf-wire.ts):
 * an event's session context, the same object for every event of its session (`lead` on the
 * lanes' records). While a record's first keys and values are the lead's, in its order, a writer
 * copies the lead's attributes as it wrote them once, instead of writing each; attributes that
 * depart from it (a value the event changed, fewer keys, another order) are written key by key,
 * so the bytes are the same either way.
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

/**
 * How many of `values`' first own keys are the lead's whole, in order and with its values: all of
 * the lead's keys, or 0 when they depart from it anywhere (or the lead is empty).
 */
export function leadingKeys(values: Readonly<Record<string, unknown>>, { keys, values: leading }: Lead): number {
  if (keys.length === 0) return 0;
  let at = 0;
  for (const key in values) {
    if (!hasOwn.call(values, key)) continue;
    if (key !== keys[at] || values[key] !== leading[at]) return 0;
    if (++at === keys.length) return at;
  }
  return 0;
}
