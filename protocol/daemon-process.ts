/**
 * How a daemon process is started, the same by every launcher: a client's auto-spawn,
 * `codexd service install` (systemd, launchd) and `npm start`.
 */

/**
 * Node flags of the daemon. V8's young generation grows to 16 MiB or more per semi-space under a
 * high allocation rate, memory the limiter does not count (it counts what the heap holds). Capped
 * at 8 MiB, a daemon under a flood stays about 40 MiB smaller than uncapped. At 4 MiB it stayed
 * smaller again (the outage's peak 119 against 125 MiB, row 7b; 8 hosts flooding, 193 against
 * 215 MiB, row 9; idle and 60 s after a load alike), but its scavenges came twice as often and it
 * spent ~10% more CPU per session event (27.0 against 24.5 us, 8 alternated pairs, lower at 8 MiB
 * in 7). V8 lets the old generation grow to up to 4× what is live before its next
 * full collection; at 1.6× (`--heap-growing-percent=60`) the outage benchmark's peak fell from
 * ~138 to ~118 MiB (row 7b), for full collections that come more often: at 1.3× the daemon's CPU
 * per session event rose by about a third (row 6e), at 1.6× by about a seventh. At 2× (100) it
 * spends 0.87× the CPU per session event of 1.6× (file exporter, 4 clients, lower in 7 of 8
 * alternated pairs; 0.94× over OTLP/gRPC, 6 of 8), for a peak of ~132 against ~122 MiB in the
 * outage, within its 150 MiB bound. `--no-parallel-scavenge` has the thread that allocates
 * collect the young generation alone: V8's helper threads shorten each scavenge's pause, which
 * nobody waits on in a daemon, and cost more CPU in all. With it, the daemon spent 0.90× the CPU
 * per session event over OTLP/gRPC (12.8 against 14.3 us, 4 clients, lower in 7 of 8 alternated
 * pairs, on one processor; 0.91×, 7 of 8, unpinned on two) and 0.93× with the file exporter.
 * Scavenging alone, the semi-space's size no longer moves the CPU per event as it did above: at
 * 2 and 4 MiB it was the same as at 8 (0.97× and 1.02×, 6 pairs each, neither side lower in more
 * than 4), at 16 MiB higher (1.08×, lower at 8 MiB in 5 of 6).
 * `--expose-gc` gives the memory limiter the full collection it runs when telemetry stops,
 * which otherwise costs loading node:v8 and a second V8 context, ~2.4 MiB of an idle daemon's
 * resident set.
 */
export const DAEMON_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8', '--heap-growing-percent=100', '--no-parallel-scavenge', '--expose-gc'];
