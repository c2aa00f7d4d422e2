/**
 * Writes that fail outside the journal and the log: the file exporter's folder, a signal's export
 * spool and the feedback spool. Here a file size limit (`ulimit -f 1`) makes every write past 512
 * bytes fail with EFBIG, as a full disk fails with ENOSPC. The daemon goes on serving, and status
 * says for each place which path fails, since when, with which error, and what that costs; the
 * losses are counted by reason.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { type DaemonStatus, ErrorCodes } from '../protocol/index.js';
import { CLI, createTestHome, runCli, spawnDaemon, type TestHome } from './support/daemon.js';
import { openRawPeer, type RawPeer } from './support/raw-client.js';

describe('writes that fail', () => {
  let home: TestHome | undefined;

  afterEach(() => {
    home?.remove();
    home = undefined;
  });

  it('shows the file exporter, the export spool and the feedback spool in status while their writes fail, and keeps serving', async () => {
    home = createTestHome();
    // Metrics are exported every 200 ms. The memory limiter's soft limit of 1 MiB has the daemon
    // over it all the time, so its export queues move what they hold to their spool at every
    // reading: the spool is written at once, without waiting 30 s for failures.
    home.writeConfig('[codexd]\nexport_interval_ms = 200\nmemory_limit_mib = 4096\nmemory_spike_limit_mib = 4095\n');
    const daemon = await spawnDaemon(home, ['sh', '-c', `ulimit -f 1; exec "${process.execPath}" "${CLI}" run --log-stderr`]);
    try {
      const peer = await openRawPeer(home.socketPath);
      await peer.initialize('codex-exec');
      // Random tag values: the journal compresses what repeats, and these must not fit in 512 bytes.
      const records = Array.from({ length: 20 }, (_, index) => ({ name: 'codex.test.disk', kind: 'counter', value: 1, tags: { index: String(index), tool: randomBytes(48).toString('hex') } }));
      // Taken in (the journal fails too: NotDurable, its own test's subject).
      const answer = await peer.request(1, 'metric/record', { records });
      expect((answer.error as { data: unknown }).data).toEqual({ accepted: 20, rejected: [] });

      const feedback = await openRawPeer(home.socketPath);
      await feedback.initialize('codex-tui');
      const refused = await feedback.request(1, 'feedback/submit', { category: 'bug', note: 'a full disk', includeLogs: true, logs: 'log line\n'.repeat(200) });
      expect((refused.error as { code: number }).code).toBe(ErrorCodes.FeedbackNotStored);

      let status: DaemonStatus.Result | undefined;
      const senders: RawPeer[] = [];
      const until = Date.now() + 30_000;
      for (let round = 0; Date.now() < until; round++) {
        // A new batch each round: the file exporter tries one, the limiter moves another to the
        // spool; which comes first for a given batch is a race, so there are many. Each from a
        // new connection: one that sent telemetry is held while the daemon is over its soft limit.
        const sender = await openRawPeer(home.socketPath);
        await sender.initialize(`round-${round}`);
        sender.send({ jsonrpc: '2.0', method: 'metric/record', params: { records: [{ name: 'codex.test.disk', kind: 'counter', value: 1, tags: { round: String(round), tool: 'a-tool-name-long-enough-to-fill-the-line' } }] } });
        senders.push(sender);
        status = JSON.parse((await runCli(home, ['status', '--json'])).stdout) as DaemonStatus.Result;
        if (new Set(status.disk.map((condition) => condition.place)).size === 3) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      // On failure, what status said: which places failed and what the queues held.
      expect(new Set((status?.disk ?? []).map((condition) => condition.place)).size, JSON.stringify({ disk: status?.disk, exporters: status?.exporters, metrics: status?.signals.metrics, memory: status?.memory })).toBe(3);
      const byPlace = Object.fromEntries((status?.disk ?? []).map((condition) => [condition.place, condition]));
      expect(byPlace.file_exporter).toMatchObject({ path: expect.stringContaining('telemetry'), error: 'EFBIG', effect: expect.stringContaining('metrics batches wait in the export queue') });
      expect(byPlace.export_spool).toMatchObject({ path: expect.stringMatching(/spool\/metrics\/file$/), error: 'EFBIG', effect: expect.stringContaining('spool_failed') });
      expect(byPlace.feedback_spool).toMatchObject({ path: expect.stringMatching(/feedback$/), error: 'EFBIG', failures: 1, effect: expect.stringContaining('-32014') });
      for (const condition of status?.disk ?? []) expect(Date.parse(condition.since)).toBeLessThanOrEqual(Date.now());
      // What the spool could not take is counted, not lost unseen.
      expect(status?.signals.metrics.dropped.spool_failed).toBeGreaterThan(0);
      expect(status?.protocolErrors.feedback_not_stored).toBe(1);

      const text = (await runCli(home, ['status'])).stdout;
      expect(text).toMatch(/disk: file exporter \S+telemetry: writes fail since \S+ \(EFBIG, \d+ failed\); metrics batches wait/);
      expect(text).toMatch(/disk: export spool \S+spool\/metrics\/file: writes fail since/);
      expect(text).toMatch(/disk: feedback spool \S+feedback: writes fail since \S+ \(EFBIG, 1 failed\); feedback\/submit is refused/);

      // Still serving everyone.
      const other = await openRawPeer(home.socketPath);
      expect((await other.initialize('another')).result).toBeDefined();
      for (const peerOf of [peer, feedback, other, ...senders]) peerOf.destroy();
      daemon.child.kill('SIGTERM');
      expect(await daemon.exited).toEqual({ code: 0, signal: null });
      // A write cut short left no part of a line behind: each line is a whole request.
      const file = join(byPlace.file_exporter?.path ?? '', 'metrics.jsonl');
      const lines = existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter((line) => line !== '') : [];
      for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    } finally {
      daemon.kill();
    }
  }, 60_000);
});
