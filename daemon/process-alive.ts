/** Whether a process still runs, for the files daemons leave behind (locks, journals, spool writes). */

/** True while `pid` runs; EPERM means it exists but belongs to someone else, so it counts as running. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
