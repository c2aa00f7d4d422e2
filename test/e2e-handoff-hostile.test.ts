/**
 * The hand-off folder holds what any process of the user may put there. A FIFO, links to
 * /dev/zero or to a secret, a directory and another user's file under `.json` names must not
 * block the daemon, grow its memory, leak a file's content into its log, feed another user's
 * records in, or be deleted; a folder replaced by a link is not scanned at all.
 */
import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { createTestHome, type DaemonProcess, startDaemonProcess, type TestHome } from './support/daemon.js';

const SECRET = 'TOPSECRET-4242-do-not-log';

function handoffJson(metric: string): string {
  return JSON.stringify({ version: 1, clientInfo: { name: 'codex-exec', version: '1.0.0' }, pid: 1, records: [{ name: metric, kind: 'counter', value: 1 }] });
}

/** Writes a hand-off file as a host does: under a temporary name, then renamed. */
function putHandoff(dir: string, name: string, text: string): void {
  writeFileSync(join(dir, `.${name}.tmp`), text, { mode: 0o600 });
  renameSync(join(dir, `.${name}.tmp`), join(dir, name));
}

describe('a hostile hand-off folder', () => {
  let home: TestHome | undefined;
  let daemon: DaemonProcess | undefined;

  afterEach(async () => {
    await daemon?.stop();
    home?.remove();
    home = daemon = undefined;
  });

  it('reads only the user\'s own regular files: a FIFO, links, a directory and a foreign file are set aside, counted once, never quoted', async () => {
    home = createTestHome();
    daemon = await startDaemonProcess(home);
    const dir = join(home.dir, 'run', 'handoff');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const secret = join(home.dir, 'secret.txt');
    writeFileSync(secret, `${SECRET}\n`);
    expect(spawnSync('mkfifo', [join(dir, 'a-fifo.json')]).status).toBe(0);
    symlinkSync('/dev/zero', join(dir, 'b-zero.json'));
    symlinkSync(secret, join(dir, 'c-secret.json'));
    mkdirSync(join(dir, 'd-dir.json'));
    // Another user's file: only root can make one here (CI runs as root).
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      putHandoff(dir, 'e-foreign.json', handoffJson('codex.test.foreign'));
      chownSync(join(dir, 'e-foreign.json'), 4242, 4242);
    }
    // The user's own file whose content is not JSON: rejected, and its content not quoted either.
    putHandoff(dir, 'f-garbage.json', `${SECRET} is not json`);
    putHandoff(dir, 'g-good.json', handoffJson('codex.test.good'));

    // Within a scan or two the good file is in; the daemon answered all along.
    const deadline = Date.now() + 10_000;
    let status = await daemon.status();
    while (status.handoff.filesIngested < 1 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = await daemon.status();
    }
    expect(status.handoff).toMatchObject({ filesIngested: 1, filesRejected: 1, refused: { not_regular: 2, symlink: 2, ...(asRoot ? { foreign_owner: 1 } : {}) } });
    expect(status.signals.metrics.received).toBe(1);
    // Counted once: set aside, not met again at the next scans.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const later = await daemon.status();
    expect(later.handoff.refused).toEqual(status.handoff.refused);
    expect(later.handoff.filesRejected).toBe(1);
    // Nothing outside the folder was touched; what was set aside is there for the user to see.
    expect(existsSync(secret)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['.a-fifo.json.refused', '.b-zero.json.refused', '.c-secret.json.refused', '.d-dir.json.refused', ...(asRoot ? ['.e-foreign.json.refused'] : [])]);
    await daemon.stop();
    expect(daemon.stderr()).not.toContain(SECRET);
    expect(daemon.stderr()).toContain('hand-off entry not read; set aside');
  });

  it('does not scan a hand-off folder replaced by a link, and deletes nothing where it points', async () => {
    home = createTestHome();
    const elsewhere = join(home.dir, 'elsewhere');
    mkdirSync(elsewhere);
    writeFileSync(join(elsewhere, 'precious.json'), handoffJson('codex.test.elsewhere'));
    mkdirSync(join(home.dir, 'run'), { recursive: true, mode: 0o700 });
    symlinkSync(elsewhere, join(home.dir, 'run', 'handoff'));
    daemon = await startDaemonProcess(home);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const status = await daemon.status();
    expect(status.handoff).toMatchObject({ filesIngested: 0, refused: { folder_unsafe: 1 } });
    expect(status.signals.metrics.received).toBe(0);
    expect(existsSync(join(elsewhere, 'precious.json'))).toBe(true);
  });
});
