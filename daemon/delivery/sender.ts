/**
 * What every delivery attempt resolves to, and the one interface every transport implements: the
 * export queue's senders (gRPC, HTTP, file) and the feedback uploader answer the same three ways.
 *
 *   ok         the receiver took it
 *   retryable  it may take it later (network, timeout, overload), perhaps after `retryAfterMs`
 *   permanent  it refused it for good; sending it again cannot help
 *
 * An attempt resolves to one of these; it does not reject. Callers tell them apart with the
 * predicates below, not by comparing strings at each use.
 */

export type SendOutcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'retryable'; readonly message: string; readonly retryAfterMs: number | null }
  | { readonly kind: 'permanent'; readonly message: string };

export type RetryableOutcome = Extract<SendOutcome, { kind: 'retryable' }>;
export type PermanentOutcome = Extract<SendOutcome, { kind: 'permanent' }>;

export interface Sender {
  /** Sends one request; resolves (never rejects) within `timeoutMs`. */
  send(bytes: Uint8Array, timeoutMs: number): Promise<SendOutcome>;
  /** Releases the transport (a gRPC channel); called once no send uses it any more. */
  close(): void;
  /**
   * True when nothing of the sender's holds the bytes once a send has settled (it wrote them
   * before it settled): their memory may then be used for another request (byte-buffer.ts).
   */
  readonly releasesBytes?: boolean;
}

export const SENT: SendOutcome = { kind: 'ok' };

export function retryable(message: string, retryAfterMs: number | null = null): RetryableOutcome {
  return { kind: 'retryable', message, retryAfterMs };
}

export function permanent(message: string): PermanentOutcome {
  return { kind: 'permanent', message };
}

export function isSent(outcome: SendOutcome): outcome is { readonly kind: 'ok' } {
  return outcome.kind === 'ok';
}

export function isRetryable(outcome: SendOutcome): outcome is RetryableOutcome {
  return outcome.kind === 'retryable';
}

export function isPermanent(outcome: SendOutcome): outcome is PermanentOutcome {
  return outcome.kind === 'permanent';
}
