#!/usr/bin/env node
/**
 * The command line's former path, kept so that a systemd unit or launchd agent installed by an
 * earlier codexd (whose ExecStart names dist/daemon/cli.js) still starts the daemon after an
 * upgrade. The command line is cli/main.ts.
 */
import '../cli/main.js';
