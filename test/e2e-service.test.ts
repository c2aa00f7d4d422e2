/**
 * The service-manager side: systemd socket activation for real (the test creates the listening
 * socket and hands it to `codexd run` as fd 3, as systemd does), the unit files and launchd
 * agent that `codexd service install` writes, checked by the tools that read them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createClient } from '../client/index.js';
import { DAEMON_NODE_FLAGS } from '../protocol/index.js';
import { CLI, createTestHome, grpcConfig, ROOT, runCli, type TestHome } from './support/daemon.js';
import { type OtlpReceiver, startOtlpReceiver } from './support/otlp-receiver.js';

function toolExists(tool: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
}

describe('service managers', () => {
  let home: TestHome;
  let receiver: OtlpReceiver;

  beforeEach(async () => {
    home = createTestHome();
    receiver = await startOtlpReceiver();
    home.writeConfig(`${grpcConfig(receiver.endpoint)}idle_timeout_ms = 600000\n`);
  });

  afterEach(async () => {
    await receiver.close();
    home.remove();
  });

  it('serves a socket handed over by systemd (LISTEN_FDS=1, LISTEN_PID, fd 3)', async () => {
    mkdirSync(join(home.dir, 'run'), { mode: 0o700 });
    const listener: Server = createServer();
    await new Promise<void>((resolve) => listener.listen(home.socketPath, resolve));
    // systemd sets LISTEN_PID to the service's own pid; `exec` keeps the shell's pid for node.
    const fd = (listener as unknown as { _handle: { fd: number } })._handle.fd;
    const child = spawn('sh', ['-c', `LISTEN_PID=$$ LISTEN_FDS=1 exec "${process.execPath}" "${CLI}" run --log-stderr`], {
      env: home.env,
      stdio: ['ignore', 'ignore', 'pipe', fd],
    });
    // The test's copy must not accept connections itself; but closing a listening socket makes
    // libuv unlink its path, which systemd would not do. Keep the path through a hard link.
    linkSync(home.socketPath, `${home.socketPath}.keep`);
    await new Promise<void>((resolve) => listener.close(() => resolve()));
    renameSync(`${home.socketPath}.keep`, home.socketPath);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      const client = createClient({ clientInfo: { name: 'activated', version: '1' }, socketPath: home.socketPath, spawn: false });
      client.counter('codex.test.calls', 3, { via: 'fd3' });
      await client.close();
      expect(client.stats(), stderr).toMatchObject({ sent: 1, dropped: {} });
      const status = JSON.parse((await runCli(home, ['status', '--json'])).stdout) as { startedBy: string; idleExitAfterMs: number | null; pid: number };
      expect(status).toMatchObject({ startedBy: 'systemd-socket', idleExitAfterMs: 600_000, pid: child.pid });
      expect((await runCli(home, ['flush'])).code).toBe(0);
      expect(receiver.sumOf('codex.test.calls', { via: 'fd3' })).toBe(3);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    // The socket belongs to systemd: the daemon leaves it in place when it stops.
    expect(existsSync(home.socketPath)).toBe(true);
  });

  it('service install --dry-run shows the units with this Node and this command line filled in', async () => {
    const result = await runCli(home, ['service', 'install', '--dry-run']);
    expect(result.code, result.stderr).toBe(0);
    const unitDir = join(home.env.XDG_CONFIG_HOME as string, 'systemd', 'user');
    expect(result.stdout).toContain(`would write ${join(unitDir, 'codexd.socket')}:`);
    expect(result.stdout).toContain(`ExecStart=${process.execPath} --max-semi-space-size=8 --heap-growing-percent=100 --no-parallel-scavenge --expose-gc ${CLI} run --service systemd`);
    expect(result.stdout).toContain('ExecReload=/bin/kill -HUP $MAINPID');
    expect(result.stdout).toContain('ListenStream=%t/codexd/codexd.sock');
    expect(result.stdout).toContain('systemctl --user enable --now codexd.socket');
    expect(existsSync(unitDir)).toBe(false);
  });

  // Where systemd-analyze is missing, the units are still written and checked for placeholders.
  it('service install writes units that systemd-analyze verify accepts, and uninstall removes them', async () => {
    const install = await runCli(home, ['service', 'install']);
    expect(install.code, install.stderr).toBe(0);
    const unitDir = join(home.env.XDG_CONFIG_HOME as string, 'systemd', 'user');
    const service = readFileSync(join(unitDir, 'codexd.service'), 'utf8');
    expect(service).not.toMatch(/@[A-Z]+@/);
    // Without a reachable user manager (a container, CI), it says what to run instead.
    expect(install.stdout).toMatch(/codexd is installed and enabled|to enable codexd, run:\n {2}systemctl --user daemon-reload/);
    if (toolExists('systemd-analyze')) verifyUnits(unitDir);
    const uninstall = await runCli(home, ['service', 'uninstall']);
    expect(uninstall.code).toBe(0);
    expect(existsSync(join(unitDir, 'codexd.service'))).toBe(false);
  });

  function verifyUnits(unitDir: string): void {
    // --user needs a runtime folder to start its manager in; the test home has one.
    mkdirSync(home.env.XDG_RUNTIME_DIR as string, { recursive: true, mode: 0o700 });
    const verify = spawnSync('systemd-analyze', ['verify', '--user', join(unitDir, 'codexd.socket'), join(unitDir, 'codexd.service')], {
      encoding: 'utf8',
      env: { ...process.env, XDG_CONFIG_HOME: home.env.XDG_CONFIG_HOME, XDG_RUNTIME_DIR: home.env.XDG_RUNTIME_DIR },
    });
    // A bad setting fails the run; an unknown key only warns, naming the file: neither may appear.
    expect(verify.status, `${verify.stdout}${verify.stderr}`).toBe(0);
    expect(`${verify.stdout}${verify.stderr}`).not.toMatch(/codexd\.(socket|service)/);
  }

  // python3's plistlib is the parser at hand on Linux (plutil is macOS-only).
  it.skipIf(!toolExists('python3'))('the launchd agent template is a valid property list once filled in', async () => {
    const { servicePlan } = await import('../cli/service.js');
    const plan = servicePlan({}, 'darwin');
    const plist = plan.files[0]?.content as string;
    const parsed = spawnSync('python3', ['-c', 'import json, plistlib, sys; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))'], { input: plist, encoding: 'utf8' });
    expect(parsed.status, parsed.stderr).toBe(0);
    const agent = JSON.parse(parsed.stdout) as Record<string, unknown>;
    expect(agent).toMatchObject({ Label: 'dev.codexd.daemon', RunAtLoad: true, KeepAlive: true });
    expect(agent.ProgramArguments).toEqual([process.execPath, '--max-semi-space-size=8', '--heap-growing-percent=100', '--no-parallel-scavenge', '--expose-gc', expect.stringMatching(/dist\/codexd\/codexd\.js$/), 'run', '--service', 'launchd']);
    expect(agent.StandardErrorPath).toMatch(/Library\/Logs\/codexd\/codexd\.err\.log$/);
  });

  it('`npm start` runs the daemon with the Node flags every other launcher passes', () => {
    const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(scripts.start).toContain(`node ${DAEMON_NODE_FLAGS.join(' ')} dist/codexd/codexd.js run`);
  });
});
