/**
 * Repeated problems (a failing exporter, a full disk) are logged once when first seen and then
 * once per interval with a count, never once per message.
 */
import type { Logger } from 'pino';

/** How often a repeated problem's count is logged. */
export const PROBLEM_LOG_INTERVAL_MS = 10_000;

export interface ProblemLog {
  report(message: string): void;
  stop(): void;
}

export function createProblemLog(logger: Logger): ProblemLog {
  const counts = new Map<string, number>();
  // Armed only while there is something to count: an idle daemon does not wake up for this.
  let timer: NodeJS.Timeout | null = null;
  const tick = (): void => {
    for (const [message, count] of counts) logger.warn({ count }, message);
    if (counts.size === 0 && timer !== null) {
      clearInterval(timer);
      timer = null;
    }
    counts.clear();
  };
  return {
    report(message) {
      if (!counts.has(message)) logger.warn(message);
      counts.set(message, (counts.get(message) ?? 0) + 1);
      if (timer === null) {
        timer = setInterval(tick, PROBLEM_LOG_INTERVAL_MS);
        timer.unref();
      }
    },
    stop: () => {
      if (timer !== null) clearInterval(timer);
      timer = null;
    },
  };
}
