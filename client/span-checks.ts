/**
 * The checks a span's recorder makes on what a host hands it, kept cheap for the hot path: a
 * name's length and well-formedness, an attribute key once per distinct key, a value as the wire
 * takes it; and the clock spans are timed by.
 */
import { type AttributeValue, attributesProblem, MAX_EVENT_ATTRIBUTE_LENGTH, MAX_SPAN_NAME_LENGTH } from '../protocol/index.js';
import { epochMs } from './clock.js';
import { cutText } from './event-buffer.js';

/** Now, in milliseconds since the Unix epoch with the monotonic clock's sub-millisecond precision. */
export const now = epochMs;

/** A string made for display in a message: quoted, and short. */
export function quoted(text: unknown): string {
  return JSON.stringify(String(text)).slice(0, 80);
}

/** ES2024's `String.prototype.isWellFormed` (Node 20+); the project's lib is ES2023. */
const isWellFormed = (String.prototype as unknown as { isWellFormed(this: string): boolean }).isWellFormed;

/**
 * Why `name` is not a valid span or span event name, or `null`: the protocol's rule (1 to
 * {@link MAX_SPAN_NAME_LENGTH} characters of well-formed Unicode) without its regular
 * expression. V8 answers `isWellFormed` at once for a one-byte string, which most names are.
 */
export function nameProblem(name: unknown): string | null {
  if (typeof name !== 'string' || name.length === 0) return 'must be a non-empty string';
  if (name.length > MAX_SPAN_NAME_LENGTH) return `exceeds ${MAX_SPAN_NAME_LENGTH} characters`;
  if (!isWellFormed.call(name)) return 'must be valid Unicode (it holds a lone surrogate)';
  return null;
}

/**
 * Attribute keys found valid, so a key seen before is not run through the protocol's regular
 * expression again: the same few keys make up nearly all spans. Bounded; emptied when full.
 */
const KNOWN_KEYS_LIMIT = 8192;
const validKeys = new Set<string>();

/** Why `key` is not a valid attribute key, or `null`; the rule is the protocol's own. */
export function keyProblem(key: unknown): string | null {
  if (typeof key !== 'string') return 'key must be a string';
  if (validKeys.has(key)) return null;
  // Attributes are kept in plain objects (JSON.stringify takes its fast path for those), where
  // this one key would set the prototype instead.
  if (key === '__proto__') return 'key __proto__ is not taken';
  const found = attributesProblem({ [key]: 0 }, 'attributes', 0, 1, 'the span');
  if (typeof found !== 'number') return found.message.replace(/^attributes\.[^:]*: /, '');
  if (validKeys.size >= KNOWN_KEYS_LIMIT) validKeys.clear();
  validKeys.add(key);
  return null;
}

/** The value as the wire takes it (a long string cut and marked, as events' are), or `undefined` when it cannot be sent. */
export function wireValue(value: unknown): AttributeValue | undefined {
  if (typeof value === 'string') return value.length > MAX_EVENT_ATTRIBUTE_LENGTH ? cutText(value, MAX_EVENT_ATTRIBUTE_LENGTH) : value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  return typeof value === 'boolean' ? value : undefined;
}

/** Characters an attribute adds to a span's weight. */
export function weightOf(key: string, value: AttributeValue): number {
  return key.length + (typeof value === 'string' ? value.length : 8);
}
