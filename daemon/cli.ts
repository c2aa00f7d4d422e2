#!/usr/bin/env node
/**
 * The command line's former path, kept so that a systemd unit or launchd agent installed by an
 * earlier codexd (whose ExecStart names dist/daemon/cli.js) still starts the daemon after an
 * upgrade. It runs the command line's bundle, dist/codexd/codexd.js (made from cli/main.ts).
 */
await import(new URL('../codexd/codexd.js', import.meta.url).href);
