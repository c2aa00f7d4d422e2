/**
 * A client that sends requests and never reads the answers must not grow the daemon's memory
 * without bound: the daemon stops reading from it while its unsent answers pass a bound, serves
 * everyone else meanwhile, and loses nothing: once the client reads, every answer comes.
 */
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { MAX_UNSENT_RESPONSE_BYTES } from '../daemon/bounded-message-reader.js';
import { createFrameDecoder, encodeFrame } from '../protocol/index.js';
import { createTestHome, type DaemonProcess, startDaemonProcess, type TestHome } from './support/daemon.js';
import { openRawPeer } from './support/raw-client.js';

/** The daemon's resident memory, in bytes, from /proc. */
function rssOf(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((text) => text.startsWith('VmRSS:')) ?? 'VmRSS: 0 kB';
  return Number(/(\d+)/.exec(line)?.[1] ?? 0) * 1024;
}

describe('response backpressure', () => {
  let home: TestHome | undefined;
  let daemon: DaemonProcess | undefined;

  afterEach(async () => {
    await daemon?.stop();
    home?.remove();
    home = daemon = undefined;
  });

  it('stops reading a client that does not read its answers, serves others, and delivers every answer once it reads', async () => {
    home = createTestHome();
    daemon = await startDaemonProcess(home);
    const pid = daemon.child.pid as number;
    const before = rssOf(pid);

    const greedy = connect(home.socketPath);
    await new Promise((resolve) => greedy.once('connect', resolve));
    // Nothing is read from this socket until the end.
    greedy.pause();
    const REQUESTS = 20_000;
    greedy.write(encodeFrame({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: 1, clientInfo: { name: 'greedy', version: '1' } } }));
    const batch: Buffer[] = [];
    for (let id = 1; id <= REQUESTS; id++) batch.push(encodeFrame({ jsonrpc: '2.0', id, method: 'daemon/status', params: {} }));
    greedy.write(Buffer.concat(batch));
    // Each answer is a few KiB: 20,000 of them would be tens of MiB held for this one client.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const grown = rssOf(pid) - before;
    expect(grown).toBeLessThan(MAX_UNSENT_RESPONSE_BYTES * 6);

    // Everyone else is served meanwhile.
    const other = await openRawPeer(home.socketPath);
    await other.initialize('patient');
    const started = Date.now();
    const answer = await other.request(1, 'metric/record', { records: [{ name: 'codex.test.other', kind: 'counter', value: 1 }] });
    expect(answer.result).toEqual({ accepted: 1, rejected: [] });
    expect(Date.now() - started).toBeLessThan(1000);
    other.destroy();

    // Once the client reads, every answer arrives: nothing was dropped, only held back.
    const decoder = createFrameDecoder();
    let answers = 0;
    const all = new Promise<void>((resolve) => {
      greedy.on('data', (chunk: Buffer) => {
        for (const frame of decoder.push(chunk)) if (frame.kind === 'message' && typeof (frame.message as { id?: unknown }).id === 'number') answers++;
        if (answers === REQUESTS + 1) resolve();
      });
    });
    greedy.resume();
    await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 30_000))]);
    expect(answers).toBe(REQUESTS + 1);
    greedy.destroy();
  }, 60_000);
});
