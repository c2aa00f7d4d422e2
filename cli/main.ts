#!/usr/bin/env node
/**
 * The `codexd` command line. Every command but `run` is a thin client of the daemon and loads
 * no OpenTelemetry: `run` imports the daemon lazily.
 *
 * Exit codes: 0 success; 1 the daemon is not running or cannot be reached; 2 bad usage or
 * input; 3 the daemon answered but the work did not fully succeed (records rejected, a flush
 * incomplete, a stop that did not finish in time).
 */
import {
  DaemonFlush,
  DaemonReload,
  DaemonShutdown,
  ErrorCodes,
  DaemonStatus,
  type MetricKind,
  type MetricRecord,
  MetricRecordBatch,
  isMetricKind,
  metricRecordProblem,
  PACKAGE_VERSION,
  SIGNALS,
  type StartedBy,
  ToolsMetrics,
} from '../protocol/index.js';
import { config } from './config-command.js';
import { feedback } from './feedback-command.js';
import { ConfigError } from '../daemon/config.js';
import { parseCommand, REQUEST_TIMEOUT_MS, socketPath, UsageError, withDaemon } from './support.js';
import { DaemonLockedError } from '../daemon/daemon-lock.js';
import type { RunningDaemon } from '../daemon/run.js';
import { DaemonNotRunningError, RpcError } from './control-client.js';
import { formatStatus, formatTools } from './status-format.js';

const USAGE = `usage: codexd <command> [options]

commands:
  run [--socket PATH] [--log-stderr]     serve in the foreground (systemd socket activation
                                         is detected; --spawned and --service systemd|launchd
                                         tell how it was started)
  status [--json] [--tools]              what the daemon holds, exported and dropped;
                                         --tools: per-tool successes, failures and latencies
  emit metric NAME VALUE [key=value ...] [--kind counter|histogram|gauge]
                                         record one metric (default kind: counter)
  feedback submit --category CATEGORY [--note TEXT] [--logs FILE | --include-logs]
                  [--session ID] [--attach FILE ...] [--tag key=value ...]
                                         queue a feedback report (durable before it answers)
  feedback list [--json] | show ID [--json] | retry ID
                                         reports in the spool; retry a failed one
  flush [--timeout MS]                   export everything accepted so far
  reload                                 read config.toml again and apply it (as SIGHUP does):
                                         exporters switch without losing what they hold; an
                                         invalid file changes nothing
  stop                                   drain and stop the daemon
  restart                                stop it and start it again (through its service
                                         manager when it runs under one)
  service install|uninstall|status [--dry-run]
                                         set codexd up as a systemd user service (socket
                                         activated) or a launchd agent
  setup codex [--dry-run] [--undo]       point Codex at codexd in the config.toml they share:
                                         its log, trace and (OTLP) metrics exporters to
                                         codexd's OTLP/gRPC receiver, what they said before
                                         to [codexd.downstream]
  config path | check [--json]           where config.toml is read, and the settings codexd
                                         takes from it, the environment and its defaults
                                         (secrets redacted)
  version                                print the version

environment:
  CODEXD_SOCKET   socket path (default: $XDG_RUNTIME_DIR/codexd/codexd.sock)
  CODEX_HOME      where config.toml is read (default: ~/.codex)`;

/** The listening socket systemd passes (fd 3), when this process is the one it was meant for. */
function activationFd(): number | undefined {
  const fds = Number(process.env.LISTEN_FDS);
  const forUs = process.env.LISTEN_PID === String(process.pid);
  // Children must not believe the socket is theirs.
  delete process.env.LISTEN_FDS;
  delete process.env.LISTEN_PID;
  delete process.env.LISTEN_FDNAMES;
  return forUs && fds >= 1 ? 3 : undefined;
}

async function run(args: string[]): Promise<number> {
  const { flags, options } = parseCommand(args, { flags: ['log-stderr', 'spawned'], options: ['socket', 'service'] });
  const { socket, service } = options;
  const logToStderr = flags['log-stderr'];
  const spawned = flags.spawned;
  if (service !== undefined && service !== 'systemd' && service !== 'launchd') throw new UsageError('--service must be systemd or launchd');
  const inheritedFd = activationFd();
  const startedBy: StartedBy = inheritedFd !== undefined ? 'systemd-socket' : spawned ? 'auto-spawn' : (service ?? 'foreground');
  // SIGHUP reloads the config. One that comes while the daemon starts (a service manager's
  // reload) must not kill it: it is remembered, and the reload runs once the daemon is up. A
  // refused reload is logged and shown in status; the daemon runs on as it was.
  let daemon: RunningDaemon | undefined;
  let reloadAsked = false;
  const reload = (): void => void daemon?.reload('SIGHUP').catch(() => undefined);
  process.on('SIGHUP', () => {
    if (daemon === undefined) reloadAsked = true;
    else reload();
  });
  const { startDaemon } = await import('../daemon/run.js');
  try {
    daemon = await startDaemon({
      ...(socket === undefined ? {} : { socketPath: socket }),
      ...(inheritedFd === undefined ? {} : { inheritedFd }),
      logToStderr,
      startedBy,
    });
  } catch (error) {
    process.stderr.write(`codexd: ${(error as Error).message}\n`);
    if (error instanceof DaemonLockedError && spawned) return 0; // Another spawn won the race: nothing is wrong.
    return error instanceof ConfigError ? 2 : 1;
  }
  process.stderr.write(`codexd ${PACKAGE_VERSION} listening on ${daemon.socketPath}\n`);
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void daemon.shutdown(signal));
  if (reloadAsked) reload();
  await daemon.stopped;
  return 0;
}

async function status(args: string[]): Promise<number> {
  const { json, tools } = parseCommand(args, { flags: ['json', 'tools'] }).flags;
  if (tools) {
    const result = await withDaemon((connection) => connection.request<ToolsMetrics.Result>(ToolsMetrics.method, {}, REQUEST_TIMEOUT_MS));
    process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${formatTools(result)}\n`);
    return 0;
  }
  const result = await withDaemon((connection) => connection.request<DaemonStatus.Result>(DaemonStatus.method, {}, REQUEST_TIMEOUT_MS));
  process.stdout.write(json ? `${JSON.stringify(result, null, 2)}\n` : `${formatStatus(result)}\n`);
  return 0;
}

function parseEmit(args: string[]): MetricRecord {
  // A negative VALUE is an argument, not an option.
  const { options, positionals } = parseCommand(
    args.map((arg) => (/^-\d/.test(arg) ? ` ${arg}` : arg)),
    { options: ['kind'], positionals: Number.POSITIVE_INFINITY },
  );
  const kindText = options.kind ?? 'counter';
  if (!isMetricKind(kindText)) throw new UsageError(`--kind must be counter, histogram or gauge, not ${JSON.stringify(kindText)}`);
  const kind: MetricKind = kindText;
  const [what, name, valueText, ...pairs] = positionals.map((arg) => arg.trimStart());
  if (what !== 'metric' || name === undefined || valueText === undefined) throw new UsageError('usage: codexd emit metric NAME VALUE [key=value ...] [--kind KIND]');
  const value = Number(valueText);
  if (valueText.trim() === '' || Number.isNaN(value)) throw new UsageError(`VALUE must be a number, not ${JSON.stringify(valueText)}`);
  const tags: Record<string, string> = {};
  for (const pair of pairs) {
    const equals = pair.indexOf('=');
    if (equals <= 0) throw new UsageError(`tag ${JSON.stringify(pair)} must be key=value`);
    tags[pair.slice(0, equals)] = pair.slice(equals + 1);
  }
  const record: MetricRecord = pairs.length === 0 ? { name, kind, value } : { name, kind, value, tags };
  const problem = metricRecordProblem(record, 0);
  if (problem !== null) throw new UsageError(problem.message.replace('records[0].', ''));
  return record;
}

async function emit(args: string[]): Promise<number> {
  const record = parseEmit(args);
  const result = await withDaemon((connection) =>
    connection.request<MetricRecordBatch.Result>(MetricRecordBatch.method, { records: [record] }, REQUEST_TIMEOUT_MS),
  );
  for (const rejection of result.rejected) process.stderr.write(`codexd: rejected: ${rejection.message.replace('records[0].', '')}\n`);
  return result.accepted === 1 ? 0 : 3;
}

async function flush(args: string[]): Promise<number> {
  const timeoutText = parseCommand(args, { options: ['timeout'] }).options.timeout;
  const timeoutMs = timeoutText === undefined ? undefined : Number(timeoutText);
  if (timeoutMs !== undefined && !(timeoutMs > 0)) throw new UsageError('--timeout must be a positive number of milliseconds');
  const result = await withDaemon((connection) =>
    connection.request<DaemonFlush.Result>(DaemonFlush.method, timeoutMs === undefined ? {} : { timeoutMs }, (timeoutMs ?? REQUEST_TIMEOUT_MS) + REQUEST_TIMEOUT_MS),
  );
  const state = result.complete ? 'complete' : result.timedOut ? 'timed out' : 'export failed';
  const signals = SIGNALS
    // A lane nothing was sent to says nothing.
    .filter((signal) => signal === 'metrics' || result[signal].received > 0)
    .map((signal) => `${signal} exported ${result[signal].exported}, buffered ${result[signal].buffered}, ${result[signal].spooled > 0 ? `spooled ${result[signal].spooled}, ` : ''}dropped ${result[signal].droppedTotal}`);
  process.stdout.write(`flush ${state} in ${result.durationMs} ms: ${signals.join('; ')}\n`);
  return result.complete ? 0 : 3;
}

async function reload(args: string[]): Promise<number> {
  parseCommand(args, {});
  try {
    const result = await withDaemon((connection) => connection.request<DaemonReload.Result>(DaemonReload.method, {}, REQUEST_TIMEOUT_MS));
    const applied = result.applied.length === 0 ? 'nothing changed' : `applied ${result.applied.join(', ')}`;
    process.stdout.write(`reloaded ${result.file ?? '(no config file: defaults)'}: ${applied}\n`);
    if (result.needsRestart.length > 0) process.stdout.write(`takes effect at the next start (codexd restart): ${result.needsRestart.join(', ')}\n`);
    return 0;
  } catch (error) {
    if (!(error instanceof RpcError) || error.code !== ErrorCodes.ReloadFailed) throw error;
    process.stderr.write(`codexd: reload refused, the daemon keeps its settings: ${error.message}\n`);
    return 2;
  }
}

async function stop(args: string[]): Promise<number> {
  parseCommand(args, {});
  return withDaemon(async (connection) => {
    const result = await connection.request<DaemonShutdown.Result>(DaemonShutdown.method, {}, REQUEST_TIMEOUT_MS);
    // The daemon closes every connection once it has drained; that is the signal it is done.
    const finished = await Promise.race([connection.closed.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), REQUEST_TIMEOUT_MS).unref())]);
    process.stdout.write(finished ? `codexd (pid ${result.pid}) stopped\n` : `codexd (pid ${result.pid}) is still draining\n`);
    return finished ? 0 : 3;
  });
}

async function service(args: string[]): Promise<number> {
  const { flags, positionals } = parseCommand(args, { flags: ['dry-run'], positionals: 1 });
  const dryRun = flags['dry-run'];
  const [action] = positionals;
  const { installService, serviceStatus, uninstallService } = await import('./service.js');
  const out = (line: string): void => void process.stdout.write(`${line}\n`);
  switch (action) {
    case 'install':
      return installService(dryRun, out);
    case 'uninstall':
      return uninstallService(dryRun, out);
    case 'status':
      return serviceStatus(out);
    default:
      throw new UsageError('usage: codexd service install|uninstall|status [--dry-run]');
  }
}

async function restart(args: string[]): Promise<number> {
  parseCommand(args, {});
  const status = await withDaemon((connection) => connection.request<DaemonStatus.Result>(DaemonStatus.method, {}, REQUEST_TIMEOUT_MS));
  const { restartManaged, startDetached } = await import('./service.js');
  if (status.startedBy === 'systemd' || status.startedBy === 'systemd-socket' || status.startedBy === 'launchd') {
    return restartManaged(status.startedBy, (line) => void process.stdout.write(`${line}\n`));
  }
  const stopped = await stop([]);
  if (stopped !== 0) return stopped;
  // A daemon started by hand or by a client comes back as a client would start it: detached.
  startDetached(socketPath());
  process.stdout.write('codexd started again in the background\n');
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'run':
      return run(args);
    case 'status':
      return status(args);
    case 'emit':
      return emit(args);
    case 'flush':
      return flush(args);
    case 'feedback':
      return feedback(args);
    case 'config':
      return config(args);
    case 'reload':
      return reload(args);
    case 'stop':
      return stop(args);
    case 'restart':
      return restart(args);
    case 'service':
      return service(args);
    case 'setup':
      return (await import('./setup-codex.js')).setup(args);
    case 'version':
    case '--version':
      process.stdout.write(`${PACKAGE_VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  }
}

// A reader that goes away (`codexd config check | head`) is not an error of ours.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`codexd: ${error.message}\n${USAGE}\n`);
      process.exitCode = 2;
    } else if (error instanceof DaemonNotRunningError) {
      process.stderr.write(`codexd: ${error.message}\n`);
      process.exitCode = 1;
    } else if (error instanceof RpcError) {
      process.stderr.write(`codexd: the daemon refused: ${error.message}\n`);
      process.exitCode = 3;
    } else {
      process.stderr.write(`codexd: ${error instanceof Error ? error.message : String(error)}\n`);
      process.exitCode = 1;
    }
  },
);
