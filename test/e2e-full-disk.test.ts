/**
 * A log file that cannot be written (a full disk: here, the log is a link to /dev/full, where
 * every write fails with ENOSPC) must neither crash the daemon nor hang it: it serves, says so
 * in status, and stops at SIGTERM within its deadline.
 */
import { mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import type { DaemonStatus } from '../protocol/index.js';
import { createTestHome, runCli, spawnDaemon, type TestHome } from './support/daemon.js';
import { openRawPeer } from './support/raw-client.js';

describe('a full disk under the log', () => {
  let home: TestHome | undefined;

  afterEach(() => {
    home?.remove();
    home = undefined;
  });

  it('serves on without its log, shows the failure in status, and stops at SIGTERM', async () => {
    home = createTestHome();
    const logDir = join(home.dir, 'state', 'codexd');
    mkdirSync(logDir, { recursive: true, mode: 0o700 });
    symlinkSync('/dev/full', join(logDir, 'codexd.log'));
    // Logging to its file, as a daemon started by a client or a service manager does.
    const daemon = await spawnDaemon(home);
    try {
      const status = async (): Promise<DaemonStatus.Result> => {
        const run = await runCli(home as TestHome, ['status', '--json']);
        expect(run.code, run.stderr).toBe(0);
        return JSON.parse(run.stdout) as DaemonStatus.Result;
      };
      let seen = await status();
      for (let tries = 0; seen.logFailure === null && tries < 50; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        seen = await status();
      }
      expect(seen.logFailure).toMatchObject({ error: 'ENOSPC' });
      // Records are still taken, and answered.
      const peer = await openRawPeer(home.socketPath);
      await peer.initialize('codex-exec');
      expect((await peer.request(1, 'metric/record', { records: [{ name: 'codex.test.disk', kind: 'counter', value: 1 }] })).result).toEqual({ accepted: 1, rejected: [] });
      peer.destroy();
      const printed = await runCli(home, ['status']);
      expect(printed.stdout).toMatch(/log: writing .*codexd\.log failed at .* \(ENOSPC\); \d+ lines dropped since/);
      // A stop is not held up by the log: exit 0 well within the flush deadline and its margin.
      const stopping = Date.now();
      daemon.child.kill('SIGTERM');
      expect(await daemon.exited).toEqual({ code: 0, signal: null });
      expect(Date.now() - stopping).toBeLessThan(6000);
      // No crash on the way: the one line is the command's own greeting.
      expect(daemon.stderr()).not.toMatch(/Error|ENOSPC|at /);
    } finally {
      daemon.kill();
    }
  });
});
