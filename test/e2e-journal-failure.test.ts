/**
 * When the journal cannot be written (here a file size limit, `ulimit -f`, makes every write past
 * 512 bytes fail with EFBIG, as a full disk fails with ENOSPC), a request is not answered
 * "accepted": it gets NotDurable (-32017) with what was taken in, status says since when the
 * journal fails, and the daemon still stops cleanly.
 */
import { randomBytes } from 'node:crypto';

import { afterEach, describe, expect, it } from 'vitest';

import { type DaemonStatus, ErrorCodes } from '../protocol/index.js';
import { CLI, createTestHome, runCli, spawnDaemon, type TestHome } from './support/daemon.js';
import { openRawPeer } from './support/raw-client.js';

describe('a journal that cannot be written', () => {
  let home: TestHome | undefined;

  afterEach(() => {
    home?.remove();
    home = undefined;
  });

  it('answers NotDurable instead of accepted, shows the failure in status, and stops cleanly', async () => {
    home = createTestHome();
    // Every file the daemon writes is limited to 512 bytes: enough for its lock, too little for
    // a journal file with a batch in it. Node ignores SIGXFSZ, so the write fails with EFBIG.
    const daemon = await spawnDaemon(home, ['sh', '-c', `ulimit -f 1; exec "${process.execPath}" "${CLI}" run --log-stderr`]);
    try {
      const peer = await openRawPeer(home.socketPath);
      await peer.initialize('codex-exec');
      // Random tag values: the journal compresses what repeats, and these must not fit in 512 bytes.
      const records = Array.from({ length: 20 }, (_, index) => ({ name: 'codex.test.durable', kind: 'counter', value: 1, tags: { index: String(index), tool: randomBytes(48).toString('hex') } }));
      const answer = await peer.request(1, 'metric/record', { records });
      expect(answer.error).toMatchObject({ code: ErrorCodes.NotDurable, data: { accepted: 20, rejected: [] } });
      expect((answer.error as { message: string }).message).toContain('could not make it durable');
      peer.destroy();
      const run = await runCli(home, ['status', '--json']);
      const status = JSON.parse(run.stdout) as DaemonStatus.Result;
      expect(status.journalFailure).toMatchObject({ error: 'EFBIG' });
      expect(status.protocolErrors).toMatchObject({ not_durable: 1 });
      expect((await runCli(home, ['status'])).stdout).toMatch(/journal: writes fail since .* \(EFBIG\)/);
      daemon.child.kill('SIGTERM');
      expect(await daemon.exited).toEqual({ code: 0, signal: null });
    } finally {
      daemon.kill();
    }
    expect(daemon.stderr()).toContain('journal: ');
  }, 30_000);
});
