/**
 * The backoff formula of protocol/backoff.ts, shared by the export queues, the feedback
 * uploader and the client's reconnects: pure, so it is tested with a fixed random source.
 */
import { describe, expect, it } from 'vitest';

import { RECONNECT_MAX_MS, RECONNECT_MIN_MS } from '../client/daemon-link.js';
import { backoffDelayMs, DEFAULT_BACKOFF_JITTER } from '../protocol/index.js';

describe('backoff formula', () => {
  const policy = { initialMs: 100, maxMs: 1_000 };

  it('doubles per failure up to the largest step, with jitter in [½, 1½) of the step', () => {
    expect([1, 2, 3, 4, 5, 6].map((attempt) => backoffDelayMs(attempt, policy, { random: () => 0.5 }))).toEqual([100, 200, 400, 800, 1_000, 1_000]);
    expect(backoffDelayMs(3, policy, { random: () => 0 })).toBe(200);
    expect(backoffDelayMs(3, policy, { random: () => 0.999_999 })).toBe(600);
    expect(DEFAULT_BACKOFF_JITTER).toEqual([0.5, 1.5]);
  });

  it('counts an attempt below 1 as the first, and waits at least what the receiver asked', () => {
    expect(backoffDelayMs(0, policy, { random: () => 0.5 })).toBe(100);
    expect(backoffDelayMs(1, policy, { random: () => 0.5, retryAfterMs: 5_000 })).toBe(5_000);
    expect(backoffDelayMs(1, policy, { random: () => 0.5, retryAfterMs: 10 })).toBe(100);
    expect(backoffDelayMs(1, policy, { random: () => 0.5, retryAfterMs: null })).toBe(100);
  });

  it('takes its jitter range from the policy: [1, 1] is none', () => {
    expect(backoffDelayMs(2, { ...policy, jitter: [1, 1] }, { random: () => 0.123 })).toBe(200);
    expect(backoffDelayMs(2, { ...policy, jitter: [0, 1] }, { random: () => 0.25 })).toBe(50);
  });

  it('gives what the export queue and the feedback uploader each computed before it, draw for draw', () => {
    for (const random of [0, 0.1, 0.37, 0.5, 0.73, 0.999]) {
      for (let attempt = 1; attempt <= 8; attempt++) {
        const step = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1));
        expect(backoffDelayMs(attempt, policy, { random: () => random, retryAfterMs: 150 })).toBe(Math.max(150, Math.round(step * (0.5 + random))));
      }
    }
  });

  it('gives the client\'s reconnects the schedule they had: doubling from 50 ms to 5 s, no jitter', () => {
    const reconnect = { initialMs: RECONNECT_MIN_MS, maxMs: RECONNECT_MAX_MS, jitter: [1, 1] as const };
    expect(Array.from({ length: 9 }, (_, at) => backoffDelayMs(at + 1, reconnect, { random: Math.random }))).toEqual([50, 100, 200, 400, 800, 1600, 3200, 5000, 5000]);
  });
});
