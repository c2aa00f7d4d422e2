/**
 * How a daemon process is started, the same by every launcher: a client's auto-spawn,
 * `codexd service install` (systemd, launchd) and `npm start`.
 */

/**
 * Node flags of the daemon. V8's young generation grows to 16 MiB or more per semi-space under a
 * high allocation rate, memory the limiter does not count (it counts what the heap holds); capped
 * at 4 MiB, a daemon under a flood stays about 50 MiB smaller, for scavenges that come more often
 * and each take less.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4'];
