/**
 * `codexd service install | uninstall | status`: writes the systemd user units (Linux) or the
 * launchd agent (macOS) from the templates in systemd/ and launchd/, with this Node and this
 * package's command line filled in; then enables and starts them when the service manager is
 * reachable, and otherwise prints the exact commands to run.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';

import { DAEMON_NODE_FLAGS, runtimeFolder } from '../protocol/index.js';
import { userName } from '../daemon/paths.js';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The package root: this file is a chunk in dist/codexd/, or dist/cli/service.js, or
 * cli/service.ts run from source.
 */
const PACKAGE_ROOT = [new URL('../../', import.meta.url), new URL('../', import.meta.url)]
  .map((url) => fileURLToPath(url))
  .find((dir) => existsSync(join(dir, 'systemd', 'codexd.service'))) as string;
/** What units and agents run: the command line's bundle. */
const CLI = join(PACKAGE_ROOT, 'dist', 'codexd', 'codexd.js');

export const SYSTEMD_UNITS = ['codexd.socket', 'codexd.service'] as const;
export const LAUNCHD_LABEL = 'dev.codexd.daemon';

export interface ServiceFile {
  readonly path: string;
  readonly content: string;
}

export interface ServicePlan {
  readonly manager: 'systemd' | 'launchd';
  readonly files: readonly ServiceFile[];
  /** Commands that enable and start the service, run in order. */
  readonly start: readonly (readonly string[])[];
  /** Commands that stop and disable it, run before the files are removed. */
  readonly stop: readonly (readonly string[])[];
  /** Command whose output says whether it runs. */
  readonly status: readonly string[];
}

function fill(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(/@([A-Z]+)@/g, (whole, name: string) => values[name] ?? whole);
}

function template(folder: string, name: string): string {
  return readFileSync(join(PACKAGE_ROOT, folder, name), 'utf8');
}

/** What `install` writes and runs on this platform; throws on a platform without a plan. */
export function servicePlan(env: NodeJS.ProcessEnv = process.env, platform: string = process.platform): ServicePlan {
  const values = {
    NODE: process.execPath,
    NODEFLAGS: DAEMON_NODE_FLAGS.join(' '),
    NODEFLAGSXML: DAEMON_NODE_FLAGS.map((flag) => `<string>${flag}</string>`).join('\n    '),
    CLI,
    HOME: homedir(),
  };
  if (platform === 'linux') {
    const dir = join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'systemd', 'user');
    return {
      manager: 'systemd',
      files: SYSTEMD_UNITS.map((unit) => ({ path: join(dir, unit), content: fill(template('systemd', unit), values) })),
      start: [
        ['systemctl', '--user', 'daemon-reload'],
        ['systemctl', '--user', 'enable', '--now', 'codexd.socket'],
      ],
      stop: [['systemctl', '--user', 'disable', '--now', 'codexd.socket', 'codexd.service']],
      status: ['systemctl', '--user', 'status', '--no-pager', 'codexd.socket', 'codexd.service'],
    };
  }
  if (platform === 'darwin') {
    const plist = join(homedir(), 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`);
    const domain = `gui/${process.getuid?.() ?? 501}`;
    return {
      manager: 'launchd',
      files: [{ path: plist, content: fill(template('launchd', `${LAUNCHD_LABEL}.plist`), values) }],
      start: [['launchctl', 'bootstrap', domain, plist]],
      stop: [['launchctl', 'bootout', `${domain}/${LAUNCHD_LABEL}`]],
      status: ['launchctl', 'print', `${domain}/${LAUNCHD_LABEL}`],
    };
  }
  throw new Error(`codexd service supports systemd (Linux) and launchd (macOS), not ${platform}; run "codexd run" under your own service manager`);
}

function quote(command: readonly string[]): string {
  return command.map((part) => (/^[\w@%+=:,./-]+$/.test(part) ? part : `'${part.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Runs the commands in order; stops at the first that cannot run or fails, and says which. */
function runAll(commands: readonly (readonly string[])[], out: (line: string) => void): boolean {
  for (const command of commands) {
    const result = spawnSync(command[0] as string, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000, encoding: 'utf8' });
    if (result.error !== undefined || result.status !== 0) {
      const why = result.error?.message ?? (result.stderr.trim().split('\n')[0] || `exit code ${result.status}`);
      out(`could not run "${quote(command)}": ${why}`);
      return false;
    }
  }
  return true;
}

export function installService(dryRun: boolean, out: (line: string) => void): number {
  const plan = servicePlan();
  if (dryRun) {
    for (const file of plan.files) out(`would write ${file.path}:\n${file.content}`);
    out(`would run:\n${plan.start.map((command) => `  ${quote(command)}`).join('\n')}`);
    return 0;
  }
  for (const file of plan.files) {
    mkdirSync(join(file.path, '..'), { recursive: true });
    writeFileSync(file.path, file.content, { mode: 0o644 });
    out(`wrote ${file.path}`);
  }
  if (plan.manager === 'launchd') mkdirSync(join(homedir(), 'Library', 'Logs', 'codexd'), { recursive: true, mode: 0o700 });
  if (runAll(plan.start, out)) {
    out(`codexd is installed and enabled as a ${plan.manager} user service`);
    return 0;
  }
  out(`the ${plan.manager} user manager is not reachable from here; to enable codexd, run:\n${plan.start.map((command) => `  ${quote(command)}`).join('\n')}`);
  return 0;
}

export function uninstallService(dryRun: boolean, out: (line: string) => void): number {
  const plan = servicePlan();
  if (dryRun) {
    out(`would run:\n${plan.stop.map((command) => `  ${quote(command)}`).join('\n')}`);
    for (const file of plan.files) out(`would remove ${file.path}`);
    return 0;
  }
  const stopped = runAll(plan.stop, out);
  for (const file of plan.files) {
    if (!existsSync(file.path)) continue;
    rmSync(file.path);
    out(`removed ${file.path}`);
  }
  if (plan.manager === 'systemd') runAll([['systemctl', '--user', 'daemon-reload']], () => undefined);
  if (!stopped) out(`if codexd still runs under ${plan.manager}, run:\n${plan.stop.map((command) => `  ${quote(command)}`).join('\n')}`);
  return 0;
}

export function serviceStatus(out: (line: string) => void): number {
  const plan = servicePlan();
  for (const file of plan.files) out(`${existsSync(file.path) ? 'installed' : 'not installed'}: ${file.path}`);
  const result = spawnSync(plan.status[0] as string, plan.status.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000, encoding: 'utf8' });
  if (result.error !== undefined) out(`${plan.manager}: cannot run "${quote(plan.status)}": ${result.error.message}`);
  else out((result.stdout || result.stderr).trim() || `${plan.manager}: no status`);
  return plan.files.every((file) => existsSync(file.path)) ? 0 : 3;
}

/** Restarts a daemon that runs under a service manager, through that manager. */
export function restartManaged(startedBy: 'systemd' | 'systemd-socket' | 'launchd', out: (line: string) => void): number {
  const command =
    startedBy === 'launchd'
      ? ['launchctl', 'kickstart', '-k', `gui/${process.getuid?.() ?? 501}/${LAUNCHD_LABEL}`]
      : ['systemctl', '--user', 'restart', 'codexd.service'];
  if (runAll([command], out)) {
    out(`codexd restarted by ${startedBy === 'launchd' ? 'launchd' : 'systemd'}`);
    return 0;
  }
  return 1;
}

/** Starts `codexd run --spawned` detached from this process, exactly as a client's auto-spawn does. */
export function startDetached(socketPath: string): void {
  const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, CLI, 'run', '--spawned'], {
    detached: true,
    stdio: 'ignore',
    windowsHide: true,
    cwd: runtimeFolder(socketPath, tmpdir(), userName()),
    env: { ...process.env, CODEXD_SOCKET: socketPath },
  });
  child.unref();
}
