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
 * per session event rose by about a third (row 6e), at 1.6× by about a seventh.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=60'];

/**
 * Environment of the daemon's process, over what its launcher has. glibc's malloc (Linux) puts
 * an allocation of 128 KiB or more in a mapping of its own, returned when it is freed, and then
 * raises that threshold to the size freed: after the first export batch, the sessions' 64 KiB
 * log chunks and the batches themselves go into the main heap, which only shrinks from its top,
 * so what a load freed among what it kept stays resident. Fixed at 64 KiB, such buffers get
 * mappings of their own and go back whole: 60 s after 8 hosts' minute of load the daemon's
 * resident set measured 78 MiB instead of 121 (its malloc heap 8 MiB instead of 46). Other C
 * libraries ignore the variable.
 */
export const DAEMON_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '65536' };
