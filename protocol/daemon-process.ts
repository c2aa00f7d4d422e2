/**
 * How a daemon process is started, the same by every launcher: a client's auto-spawn,
 * `codexd service install` (systemd, launchd) and `npm start`.
 */

/**
 * Node flags of the daemon. V8's young generation grows to 16 MiB or more per semi-space under a
 * high allocation rate, memory the limiter does not count (it counts what the heap holds); capped
 * at 4 MiB, a daemon under a flood stays about 50 MiB smaller, for scavenges that come more often
 * and each take less. V8 lets the old generation grow by up to 4× its live size before the next
 * full collection; at 1.3× (`--heap-growing-percent=30`) a daemon whose live heap is ~20 MiB
 * under load holds ~20 MiB less garbage, for full collections that come more often (a few
 * percent of throughput in row 3).
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=30'];
