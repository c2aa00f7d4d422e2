/**
 * The daemon's lifecycle, for real: clients start it on first use, twenty at once start one,
 * hosts that exit at once lose nothing, a killed daemon is started again, stale state is
 * recovered, and an auto-spawned daemon goes away when idle.
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { beforeEach, describe, expect, it } from 'vitest';

import { writeHandoffFile } from '../client/exit-handoff.js';
import { ErrorCodes, PACKAGE_VERSION, PROTOCOL_VERSION, RUNTIME_FILES } from '../protocol/index.js';
import {
  CLI,
  type DaemonProcess,
  grpcConfig,
  isAlive,
  ROOT,
  runCli,
  runNode,
  spawnedDaemonPids,
  spawningEnv,
  type TestHome,
  waitForSocket,
} from './support/daemon.js';
import { useHarness } from './support/harness.js';
import type { OtlpReceiver } from './support/otlp-receiver.js';
import { openRawPeer } from './support/raw-client.js';

const HOST = join(ROOT, 'test/fixtures/host.mjs');

interface HostStats {
  sent: number;
  handedOff: number;
  dropped: Record<string, number>;
  errors: string[];
  totalMs?: number;
  perSecond?: Record<string, number>;
}

function parseStats(run: { code: number | null; stdout: string; stderr: string }): HostStats {
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout.trim().split('\n').at(-1) as string) as HostStats;
}

describe('daemon lifecycle', () => {
  const harness = useHarness();
  let home: TestHome;
  let receiver: OtlpReceiver;
  let daemon: DaemonProcess | undefined;

  beforeEach(async () => {
    ({ home, receiver } = await harness.homeWithReceiver());
  });

  /**
   * Flushes the auto-spawned daemon until a flush completes: on a loaded machine one may time
   * out (exit 3) while the daemon is still busy with a crowd of hosts.
   */
  async function flushSpawned(): Promise<void> {
    await expect.poll(async () => (await runCli(home, ['flush'])).code, { timeout: 20_000, interval: 100 }).toBe(0);
  }

  it('first use: the client starts the daemon, the host does not wait for it, and all 1,000 records arrive', async () => {
    const env = spawningEnv(home);
    const cold = parseStats(await runNode(home, HOST, ['close', 'cold', '1000'], 30_000, env));
    expect(cold.dropped).toEqual({});
    await expect.poll(() => spawnedDaemonPids(home).length, { timeout: 10_000 }).toBe(1);
    await expect.poll(() => receiver.histogramTotals('codex.test.latency_ms', { client: 'cold' }).count, { timeout: 10_000 }).toBe(1000);
    expect(receiver.histogramTotals('codex.test.latency_ms', { client: 'cold' }).sum).toBe(500_500);

    const warm = parseStats(await runNode(home, HOST, ['close', 'warm', '1000'], 30_000, env));
    await flushSpawned();
    expect(receiver.histogramTotals('codex.test.latency_ms', { client: 'warm' }).count).toBe(1000);
    const status = JSON.parse((await runCli(home, ['status', '--json'])).stdout) as { startedBy: string; idleExitAfterMs: number };
    expect(status).toMatchObject({ startedBy: 'auto-spawn', idleExitAfterMs: 600_000 });
    // The cold host handed its records over instead of waiting for the daemon to come up: its
    // only extra cost is spawning the daemon, which a loaded machine can stretch to tens of ms,
    // while waiting for the daemon's socket would add its whole start-up.
    process.stdout.write(`first use: host ran ${cold.totalMs?.toFixed(1)} ms (handed over ${cold.handedOff}); warm: ${warm.totalMs?.toFixed(1)} ms (sent ${warm.sent})\n`);
    expect(cold).toMatchObject({ handedOff: 1000, sent: 0 });
    expect(cold.totalMs).toBeLessThan((warm.totalMs as number) + 100);
  });

  it('twenty clients starting at once leave exactly one daemon, and nothing is lost', async () => {
    const env = spawningEnv(home);
    const runs = await Promise.all(Array.from({ length: 20 }, (_, index) => runNode(home, HOST, ['close', `herd-${index}`, '200'], 60_000, env)));
    for (const run of runs) expect(parseStats(run).dropped).toEqual({});
    await expect.poll(() => spawnedDaemonPids(home).length, { timeout: 10_000 }).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(spawnedDaemonPids(home)).toHaveLength(1);
    await flushSpawned();
    await expect.poll(() => receiver.histogramTotals('codex.test.latency_ms').count, { timeout: 10_000 }).toBe(20 * 200);
    for (let index = 0; index < 20; index++) expect(receiver.histogramTotals('codex.test.latency_ms', { client: `herd-${index}` }).count).toBe(200);
  });

  it('ten daemons started at the same instant leave exactly one running', async () => {
    const children = Array.from({ length: 10 }, () => spawn(process.execPath, [CLI, 'run', '--log-stderr'], { env: home.env, stdio: ['ignore', 'ignore', 'pipe'] }));
    const stderr = children.map(() => '');
    children.forEach((child, index) => child.stderr?.on('data', (chunk: Buffer) => (stderr[index] += chunk.toString())));
    const exits = children.map((child) => new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code))));
    try {
      await waitForSocket(home.socketPath);
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const running = children.filter((child) => child.exitCode === null && child.signalCode === null);
      expect(running, stderr.join('\n')).toHaveLength(1);
      for (const [index, child] of children.entries()) {
        if (child === running[0]) continue;
        expect(child.exitCode).toBe(1);
        expect(stderr[index]).toMatch(/codexd: (a codexd daemon is already running|another codexd( \(pid \d+\))? is starting) on /);
      }
      expect(JSON.parse((await runCli(home, ['status', '--json'])).stdout).pid).toBe(running[0]?.pid);
    } finally {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await Promise.all(exits);
    }
  });

  it('a host that calls process.exit(0) right after 10,000 records loses none of them', async () => {
    daemon = await harness.daemon();
    // Connected: the exit writes what is queued and buffered to the socket synchronously.
    const connected = parseStats(await runNode(home, HOST, ['exit-connected', 'sync', '10000']));
    // Not yet connected: the exit hands the buffer over as a file.
    const early = parseStats(await runNode(home, HOST, ['exit', 'early', '10000']));
    expect(connected.dropped).toEqual({});
    expect(early.dropped).toEqual({});
    await expect.poll(() => receiver.histogramTotals('codex.test.latency_ms', { client: 'early' }).count, { timeout: 10_000 }).toBe(10_000);
    await daemon.request('daemon/flush', {});
    expect(receiver.histogramTotals('codex.test.latency_ms', { client: 'sync' })).toEqual({ count: 10_000, sum: 50_005_000 });
    expect(receiver.histogramTotals('codex.test.latency_ms', { client: 'early' })).toEqual({ count: 10_000, sum: 50_005_000 });
    const status = await daemon.status();
    expect(status.handoff).toMatchObject({ filesIngested: 1, recordsIngested: 10_000, filesRejected: 0 });
  });

  it('a host killed with SIGKILL loses only what was still in its own buffer', async () => {
    daemon = await harness.daemon();
    const run = await runNode(home, HOST, ['kill', 'killed', '2000']);
    expect(run.signal).toBe('SIGKILL');
    await daemon.request('daemon/flush', {});
    // What was flushed to the socket before the kill all arrives; what was only buffered cannot.
    expect(receiver.histogramTotals('codex.test.latency_ms', { client: 'killed' })).toEqual({ count: 2000, sum: 2001000 });
    expect(receiver.histogramTotals('codex.test.latency_ms', { client: 'killed-unflushed' }).count).toBe(0);
  });

  it('record then process.exit() on a machine with no daemon loses nothing', async () => {
    const env = spawningEnv(home);
    const run = parseStats(await runNode(home, HOST, ['exit', 'nodaemon', '5000'], 30_000, env));
    expect(run.dropped).toEqual({});
    await expect.poll(() => spawnedDaemonPids(home).length, { timeout: 10_000 }).toBe(1);
    await expect.poll(async () => (await runCli(home, ['status', '--json'])).code, { timeout: 10_000 }).toBe(0);
    await flushSpawned();
    await expect.poll(() => receiver.histogramTotals('codex.test.latency_ms', { client: 'nodaemon' }).count, { timeout: 10_000 }).toBe(5000);
  });

  it('kill -9 of the daemon: the next record starts a new one and later records arrive; the loss is measured', async () => {
    const env = spawningEnv(home);
    const host = runNode(home, HOST, ['steady', 'steady', '4000'], 60_000, env);
    await expect.poll(() => spawnedDaemonPids(home).length, { timeout: 10_000 }).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const [first] = spawnedDaemonPids(home);
    process.kill(first as number, 'SIGKILL');
    const stats = parseStats(await host);
    await expect.poll(() => spawnedDaemonPids(home).filter((pid) => pid !== first).length, { timeout: 10_000 }).toBe(1);
    await flushSpawned();
    const perSecond = stats.perSecond as Record<string, number>;
    const recorded = Object.values(perSecond).reduce((sum, count) => sum + count, 0);
    const arrived = receiver.sumOf('codex.test.steady');
    process.stdout.write(`kill -9: recorded ${recorded}, arrived ${arrived}, lost ${recorded - arrived} (records the killed daemon had taken but not exported)\n`);
    // The last second is recorded well after the new daemon is up: every record of it arrives.
    expect(receiver.sumOf('codex.test.steady', { second: '3' })).toBe(perSecond['3']);
    // At least once: what the killed daemon exported in its last trim window (200 ms, PROTOCOL.md
    // 10.1) its journal still held, and the next daemon sends again. At one record a millisecond,
    // a second's records bound that.
    expect(arrived).toBeLessThanOrEqual(recorded + 1000);
    expect(arrived).toBeGreaterThan(recorded / 2);
  });

  it('recovers from a stale socket and a stale lock left by a dead daemon', async () => {
    const dir = join(home.dir, 'run');
    mkdirSync(dir, { mode: 0o700 });
    // A daemon that was killed leaves its socket file and its lock behind.
    const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(home.socketPath)}, () => console.log(process.pid))`], { stdio: ['ignore', 'pipe', 'ignore'] });
    const deadPid = Number(await new Promise<string>((resolve) => holder.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString()))));
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    writeFileSync(join(dir, 'codexd.lock'), `${deadPid}\n2026-01-01T00:00:00.000Z\n`);
    daemon = await harness.daemon();
    expect((await daemon.status()).pid).toBe(daemon.child.pid);
  });

  it('refuses to start while another daemon holds a fresh lock and is still starting', async () => {
    const dir = join(home.dir, 'run');
    mkdirSync(dir, { mode: 0o700 });
    // A live process (this test runner) holds the lock but listens nowhere yet.
    writeFileSync(join(dir, 'codexd.lock'), `${process.pid}\n${new Date().toISOString()}\n`);
    const result = await runCli(home, ['run']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`codexd: another codexd (pid ${process.pid}) is starting on ${home.socketPath}\n`);
  });

  it('the crash-loop guard stops starting a daemon that keeps failing', async () => {
    mkdirSync(join(home.dir, 'run'), { mode: 0o700 });
    const now = new Date().toISOString();
    writeFileSync(join(home.dir, 'run', RUNTIME_FILES.spawnFailures), `${now}\n${now}\n${now}\n`);
    const run = parseStats(await runNode(home, HOST, ['close', 'guarded', '10'], 30_000, spawningEnv(home)));
    expect(run.errors.some((message) => message.includes('failed to start 3 times'))).toBe(true);
    expect(spawnedDaemonPids(home)).toEqual([]);
    expect(run.handedOff).toBe(10);
  });

  it('an auto-spawned daemon exits after its idle time, but not while it holds records', async () => {
    home.writeConfig(`${grpcConfig(receiver.endpoint, 600_000)}idle_timeout_ms = 400\n`);
    const env = spawningEnv(home);
    parseStats(await runNode(home, HOST, ['close', 'idle', '100'], 30_000, env));
    await expect.poll(() => spawnedDaemonPids(home).length, { timeout: 10_000 }).toBe(1);
    const [pid] = spawnedDaemonPids(home);
    // Records are buffered until the next export, ten minutes away: the daemon stays.
    await expect.poll(async () => JSON.parse((await runCli(home, ['status', '--json'])).stdout).signals.metrics.buffered, { timeout: 10_000 }).toBe(100);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(isAlive(pid as number)).toBe(true);
    await flushSpawned();
    expect(receiver.histogramTotals('codex.test.latency_ms', { client: 'idle' }).count).toBe(100);
    await expect.poll(() => isAlive(pid as number), { timeout: 5000 }).toBe(false);
  });

  it('an auto-spawned daemon stays up while hosts hand it files, and exits once they stop', async () => {
    // Exported every 50 ms: nothing stays buffered to keep the daemon busy.
    home.writeConfig(`${grpcConfig(receiver.endpoint, 50)}idle_timeout_ms = 600\n`);
    parseStats(await runNode(home, HOST, ['close', 'spawner', '10'], 30_000, spawningEnv(home)));
    await expect.poll(() => spawnedDaemonPids(home).length, { timeout: 10_000 }).toBe(1);
    const [pid] = spawnedDaemonPids(home) as [number];
    await receiver.waitFor(() => receiver.histogramTotals('codex.test.latency_ms', { client: 'spawner' }).count === 10, 10_000, 'the first host\'s records');
    // For over three idle times, a file every 200 ms as short CLIs leave them, and no connection.
    // Each holds only a drop count: nothing the daemon buffers, which would keep it busy anyway.
    const runtimeDir = dirname(home.socketPath);
    for (let i = 0; i < 10; i++) {
      expect(writeHandoffFile(runtimeDir, { version: 1, clientInfo: { name: 'filer', version: '1' }, pid: process.pid, records: [], dropped: { client_buffer_full: 1 } })).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(isAlive(pid)).toBe(true);
    const status = JSON.parse((await runCli(home, ['status', '--json'])).stdout) as { pid: number; handoff: { filesIngested: number }; signals: { metrics: { dropped: Record<string, number> } } };
    // The first host's file too: it closed while the daemon it started was coming up.
    expect(status).toMatchObject({ pid, handoff: { filesIngested: 11 }, signals: { metrics: { dropped: { client_buffer_full: 10 } } } });
    await expect.poll(() => isAlive(pid), { timeout: 5000 }).toBe(false);
  });

  it('codexd restart stops an auto-spawned daemon and starts a new one, losing nothing', async () => {
    const env = spawningEnv(home);
    parseStats(await runNode(home, HOST, ['close', 'before-restart', '100'], 30_000, env));
    await expect.poll(() => spawnedDaemonPids(home).length, { timeout: 10_000 }).toBe(1);
    await expect.poll(async () => (await runCli(home, ['status'])).code, { timeout: 10_000 }).toBe(0);
    const [first] = spawnedDaemonPids(home);
    const restart = await runCli(home, ['restart']);
    expect(restart.code, restart.stderr).toBe(0);
    expect(restart.stdout).toBe(`codexd (pid ${first}) stopped\ncodexd started again in the background\n`);
    // The stop exported what the first daemon held.
    expect(receiver.histogramTotals('codex.test.latency_ms', { client: 'before-restart' }).count).toBe(100);
    await expect.poll(() => spawnedDaemonPids(home).filter((pid) => pid !== first).length, { timeout: 10_000 }).toBe(1);
    await expect.poll(async () => (await runCli(home, ['status'])).code, { timeout: 10_000 }).toBe(0);
    const status = JSON.parse((await runCli(home, ['status', '--json'])).stdout) as { pid: number; startedBy: string };
    expect(status.pid).not.toBe(first);
    expect(status.startedBy).toBe('auto-spawn');
    await expect.poll(() => isAlive(first as number), { timeout: 5000 }).toBe(false);
  });

  it('a foreground daemon does not exit when idle', async () => {
    home.writeConfig(`${grpcConfig(receiver.endpoint)}idle_timeout_ms = 200\n`);
    daemon = await harness.daemon();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(daemon.child.exitCode).toBeNull();
    expect((await daemon.status()).idleExitAfterMs).toBeNull();
  });

  it('an older daemon is replaced by a newer client without losing what either held', async () => {
    // An older release: this build with its version set back, in a folder of its own.
    const old = join(home.dir, 'old-release');
    cpSync(join(ROOT, 'dist'), join(old, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(old, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(old, 'node_modules'), 'dir');
    // The daemon runs from the command line's bundle, which holds its own copy of the version.
    const bundle = join(old, 'dist/codexd');
    const versionFile = readdirSync(bundle).map((name) => join(bundle, name)).find((file) => /PACKAGE_VERSION = "/.test(readFileSync(file, 'utf8'))) as string;
    writeFileSync(versionFile, readFileSync(versionFile, 'utf8').replace(/PACKAGE_VERSION = "[^"]+"/, 'PACKAGE_VERSION = "0.0.1"'));
    // A long export interval: what the old daemon holds is only exported by its drain.
    home.writeConfig(grpcConfig(receiver.endpoint, 600_000));
    const oldDaemon = spawn(process.execPath, [join(old, 'dist/daemon/cli.js'), 'run', '--log-stderr'], { env: home.env, stdio: 'ignore' });
    const oldExit = new Promise((resolve) => oldDaemon.once('exit', (code) => resolve(code)));
    await waitForSocket(home.socketPath);
    expect(JSON.parse((await runCli(home, ['status', '--json'])).stdout).serverInfo.version).toBe('0.0.1');

    // A client of the old release's age records into it (no replacement: spawning is off).
    parseStats(await runNode(home, HOST, ['close', 'before', '300']));
    // A client of this release, with spawning on, replaces it.
    const newer = parseStats(await runNode(home, HOST, ['close', 'newer', '700'], 30_000, spawningEnv(home)));
    expect(newer.errors.some((message) => message.includes('replacing the running daemon 0.0.1 with'))).toBe(true);
    expect(await oldExit).toBe(0);
    await expect.poll(() => spawnedDaemonPids(home).length, { timeout: 10_000 }).toBe(1);
    await expect.poll(async () => (await runCli(home, ['status'])).code, { timeout: 10_000 }).toBe(0);
    const status = JSON.parse((await runCli(home, ['status', '--json'])).stdout) as { serverInfo: { version: string }; startedBy: string };
    expect(status).toMatchObject({ serverInfo: { version: PACKAGE_VERSION }, startedBy: 'auto-spawn' });
    await flushSpawned();
    expect(receiver.histogramTotals('codex.test.latency_ms', { client: 'before' }).count).toBe(300);
    expect(receiver.histogramTotals('codex.test.latency_ms', { client: 'newer' }).count).toBe(700);
  });

  it('a daemon asked to speak a newer protocol refuses (-32003) and makes way for that client', async () => {
    daemon = await harness.daemon();
    const peer = await openRawPeer(home.socketPath);
    const reply = await peer.request(1, 'initialize', { protocolVersion: PROTOCOL_VERSION + 1, clientInfo: { name: 'future', version: '9.0.0' } });
    expect((reply.error as { code: number }).code).toBe(ErrorCodes.UnsupportedProtocolVersion);
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
    peer.destroy();
  });
});
