/**
 * How a daemon process is started, the same by every launcher: a client's auto-spawn,
 * `codexd service install` (systemd, launchd) and `npm start`.
 */

/**
 * Node flags of the daemon. V8's young generation grows to 16 MiB or more per semi-space under a
 * high allocation rate, memory the limiter does not count (it counts what the heap holds); capped
 * at 4 MiB, a daemon under a flood stays about 50 MiB smaller, for scavenges that come more often
 * and each take less. V8 lets the old generation grow to up to 4× what is live before its next
 * full collection; at 1.6× (`--heap-growing-percent=60`) the outage benchmark's peak falls from
 * ~138 to ~118 MiB (row 7b), for full collections that come more often: at 1.3× the daemon's CPU
 * per session event rose by about a third (row 6e), at 1.6× by about a seventh. `--expose-gc`
 * gives the memory limiter the full collection it runs when telemetry stops, which otherwise
 * costs loading node:v8 and a second V8 context, ~2.4 MiB of an idle daemon's resident set.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=60', '--expose-gc'];
