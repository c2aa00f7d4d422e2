/**
 * Idle exit, for a daemon nobody asked to keep running (auto-spawned, or socket-activated, which
 * systemd starts again on demand): once it has had no connection, taken in no hand-off file and
 * held nothing for the idle timeout, it stops. Checked a few times per idle period.
 */
import type { StartedBy } from '../../protocol/index.js';

/** Only a daemon nobody asked to keep running exits when idle. */
export function exitsWhenIdle(startedBy: StartedBy): boolean {
  return startedBy === 'auto-spawn' || startedBy === 'systemd-socket';
}

export interface IdleExit {
  stop(): void;
}

export interface IdleExitOptions {
  /** Null: never exits when idle. */
  readonly afterMs: number | null;
  /**
   * True while the daemon has work: a connection, records not yet exported, a spool to send, a
   * feedback report waiting for a configured endpoint.
   */
  readonly busy: () => boolean;
  /** When something last happened between checks (a connection opened or closed, a hand-off file taken in), epoch ms. */
  readonly lastActivityAt: () => number;
  readonly onIdle: (reason: string) => void;
}

export function startIdleExit(options: IdleExitOptions): IdleExit {
  const { afterMs } = options;
  let busyAt = Date.now();
  const timer =
    afterMs === null
      ? null
      : setInterval(
          () => {
            if (options.busy()) busyAt = Date.now();
            else if (Date.now() - Math.max(busyAt, options.lastActivityAt()) >= afterMs) options.onIdle(`idle for ${afterMs} ms`);
          },
          Math.max(50, Math.min(5000, afterMs / 4)),
        );
  timer?.unref();
  return {
    stop: () => clearInterval(timer ?? undefined),
  };
}
