/**
 * The JSON-RPC request correlator the thin client and the command line's control connection
 * share (client/request-correlator.ts): ids, answers, deadlines, and failing everything pending
 * when the connection closes.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';

import { createRequestCorrelator } from '../client/request-correlator.js';

describe('request correlator', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('hands out increasing ids from the first one and settles each request with its own answer, an error being an answer', async () => {
    const requests = createRequestCorrelator({ firstId: 16 });
    const first = requests.nextId();
    const second = requests.nextId();
    expect([first, second]).toEqual([16, 17]);
    const answers = [requests.wait(first, 'a', 1000), requests.wait(second, 'b', 1000)];
    expect(requests.pending).toBe(2);
    expect(requests.settle({ jsonrpc: '2.0', id: second, error: { code: -32602, message: 'bad' } })).toBe(true);
    expect(requests.settle({ jsonrpc: '2.0', id: first, result: { ok: 1 } })).toBe(true);
    expect(await Promise.all(answers)).toEqual([
      { jsonrpc: '2.0', id: 16, result: { ok: 1 } },
      { jsonrpc: '2.0', id: 17, error: { code: -32602, message: 'bad' } },
    ]);
    expect(requests.pending).toBe(0);
  });

  it('ignores what answers nothing pending: unknown, repeated, missing or non-numeric ids, and non-objects', () => {
    const requests = createRequestCorrelator();
    const id = requests.nextId();
    void requests.wait(id, 'a', 1000);
    expect(requests.settle({ id: 99, result: 1 })).toBe(false);
    expect(requests.settle({ id: String(id), result: 1 })).toBe(false);
    expect(requests.settle({ method: 'daemon/notice' })).toBe(false);
    expect(requests.settle(null)).toBe(false);
    expect(requests.settle({ id, result: 1 })).toBe(true);
    expect(requests.settle({ id, result: 2 })).toBe(false);
  });

  it('rejects a request at its deadline, naming the method, tells onTimeout, and ignores a late answer', async () => {
    vi.useFakeTimers();
    const timedOut: number[] = [];
    const requests = createRequestCorrelator({ onTimeout: (id) => timedOut.push(id) });
    const id = requests.nextId();
    const answer = requests.wait(id, 'daemon/status', 500);
    const outcome = expect(answer).rejects.toThrow('daemon/status: no answer within 500 ms');
    await vi.advanceTimersByTimeAsync(499);
    expect(timedOut).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await outcome;
    expect(timedOut).toEqual([id]);
    expect(requests.settle({ id, result: 1 })).toBe(false);
  });

  it('rejects everything pending when the connection closes, and keeps no timer behind', async () => {
    vi.useFakeTimers();
    const requests = createRequestCorrelator();
    const waits = [requests.wait(requests.nextId(), 'a', 1000), requests.wait(requests.nextId(), 'b', 1000)];
    const closed = new Error('the daemon closed the connection');
    requests.rejectAll(closed);
    for (const wait of waits) await expect(wait).rejects.toBe(closed);
    expect(requests.pending).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });
});
