/**
 * The codexd command line and the daemon's socket rules, run as real processes.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { createTestHome, type DaemonProcess, runCli, startDaemonProcess, type TestHome, waitForSocket } from './support/daemon.js';

describe('codexd command line', () => {
  let home: TestHome;
  let daemon: DaemonProcess | undefined;

  beforeEach(() => {
    home = createTestHome();
    home.writeConfig('[codexd]\nexport_interval_ms = 60000\n');
  });

  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
    home.remove();
  });

  it('says the daemon is not running, with exit code 1', async () => {
    for (const command of [['status'], ['flush'], ['stop'], ['emit', 'metric', 'codex.x', '1']]) {
      const result = await runCli(home, command);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`codexd: codexd is not running (nothing listens on ${home.socketPath})\n`);
    }
  });

  it('gives up on a daemon that accepts but never answers, within the deadline it states, and exits', async () => {
    // A hung daemon: the socket accepts, nothing is ever read or answered, nothing is closed.
    mkdirSync(join(home.dir, 'run'), { recursive: true, mode: 0o700 });
    const held: import('node:net').Socket[] = [];
    const hung = createServer((socket) => held.push(socket)).listen(home.socketPath);
    await new Promise((resolve) => hung.once('listening', resolve));
    try {
      for (const command of [['status'], ['flush']]) {
        const started = Date.now();
        const result = await runCli(home, command, 15_000);
        expect(result.code, command.join(' ')).toBe(1);
        expect(result.stderr).toMatch(/initialize: no answer within \d+ ms/);
        expect(Date.now() - started).toBeLessThan(8000);
      }
    } finally {
      for (const socket of held) socket.destroy();
      hung.close();
    }
  });

  it('refuses bad usage and bad input with exit code 2 and a one-line reason', async () => {
    const cases: [string[], string][] = [
      [['launch'], 'codexd: unknown command "launch"'],
      [['emit', 'metric', '9lives', '1'], 'codexd: name: must start with a letter and contain only A-Z a-z 0-9 . _ -'],
      [['emit', 'metric', 'codex.x', 'many'], 'codexd: VALUE must be a number, not "many"'],
      [['emit', 'metric', 'codex.x', '-1'], 'codexd: value: a counter increment must not be negative'],
      [['emit', 'metric', 'codex.x', '1', 'tool'], 'codexd: tag "tool" must be key=value'],
      [['emit', 'metric', 'codex.x', '1', '--kind', 'meter'], 'codexd: --kind must be counter, histogram or gauge, not "meter"'],
      [['status', '--yaml'], 'codexd: unknown option --yaml'],
      [['status', 'now'], 'codexd: unexpected argument "now"'],
      [['flush', '--timeout'], 'codexd: --timeout needs a value'],
      [['feedback', 'submit', '--category', 'bug', '--tag', 'ab'], 'codexd: --tag ab: expected key=value'],
      [['config', 'path', '--json'], 'codexd: unknown option --json'],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(home, args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr.split('\n')[0]).toBe(message);
    }
  });

  it('emits, flushes to the embedded file exporter, shows status, and stops', async () => {
    daemon = await startDaemonProcess(home);
    expect((await runCli(home, ['emit', 'metric', 'codex.tool.call', '2', 'tool=shell', 'status=ok'])).code).toBe(0);
    expect((await runCli(home, ['emit', 'metric', 'codex.turn.e2e_duration_ms', '1234', '--kind', 'histogram'])).code).toBe(0);

    const flush = await runCli(home, ['flush']);
    expect(flush.code, flush.stderr).toBe(0);
    expect(flush.stdout).toMatch(/^flush complete in \d+ ms: metrics exported 2, buffered 0, dropped 0\n$/);

    // OTLP JSON lines, one export request per line, in the user's data folder.
    const dir = join(home.env.XDG_DATA_HOME as string, 'codexd', 'telemetry');
    const lines = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1);
    const request = JSON.parse(lines[0] as string) as { resourceMetrics: { scopeMetrics: { scope: { name: string }; metrics: { name: string; sum?: { dataPoints: { asDouble?: number; asInt?: number; attributes: { key: string; value: { stringValue: string } }[] }[]; aggregationTemporality: number } }[] }[] }[] };
    const scope = request.resourceMetrics[0]?.scopeMetrics[0];
    expect(scope?.scope.name).toBe('codex');
    const sum = scope?.metrics.find((metric) => metric.name === 'codex.tool.call')?.sum;
    expect(sum?.aggregationTemporality).toBe(1);
    expect(sum?.dataPoints[0]?.asDouble ?? sum?.dataPoints[0]?.asInt).toBe(2);
    expect(sum?.dataPoints[0]?.attributes).toEqual([
      { key: 'tool', value: { stringValue: 'shell' } },
      { key: 'status', value: { stringValue: 'ok' } },
    ]);

    const table = await runCli(home, ['status']);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^codexd \d+\.\d+\.\d+ \(protocol 1\), pid \d+, up \d+s\n/);
    expect(table.stdout).toMatch(/metrics\s+2\s+0\s+0\s+2\s+0\n/);
    expect(table.stdout).toContain(`file      metrics  ok     ${dir}`);
    expect(table.stdout).toMatch(/codexd-cli\s+\d+\.\d+\.\d+\s+codexd-cli\s+\d+/);

    const json = JSON.parse((await runCli(home, ['status', '--json'])).stdout) as { pid: number; socketPath: string };
    expect(json.pid).toBe(daemon.child.pid);
    expect(json.socketPath).toBe(home.socketPath);

    const stop = await runCli(home, ['stop']);
    expect(stop).toMatchObject({ code: 0, stdout: `codexd (pid ${daemon.child.pid}) stopped\n` });
    expect(await daemon.exited).toEqual({ code: 0, signal: null });
    expect(existsSync(home.socketPath)).toBe(false);
  });

  it('creates the socket folder 0700 and the socket 0600, and logs to the state folder', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, '../dist/codexd/codexd.js'), 'run'], { env: home.env, stdio: 'ignore' });
    try {
      await waitForSocket(home.socketPath);
      expect(statSync(join(home.dir, 'run')).mode & 0o777).toBe(0o700);
      expect(statSync(home.socketPath).mode & 0o777).toBe(0o600);
      const log = join(home.env.XDG_STATE_HOME as string, 'codexd', 'codexd.log');
      await expect.poll(() => existsSync(log) && readFileSync(log, 'utf8')).toContain('"msg":"listening"');
      expect(statSync(log).mode & 0o777).toBe(0o600);
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  });

  it('tightens a socket folder of ours that others can enter', async () => {
    mkdirSync(join(home.dir, 'run'), { mode: 0o755 });
    chmodSync(join(home.dir, 'run'), 0o755);
    daemon = await startDaemonProcess(home);
    expect(statSync(join(home.dir, 'run')).mode & 0o777).toBe(0o700);
  });

  it('refuses a socket folder that others can write', async () => {
    mkdirSync(join(home.dir, 'run'));
    chmodSync(join(home.dir, 'run'), 0o777);
    const result = await runCli(home, ['run']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`codexd: socket folder ${join(home.dir, 'run')} is writable by others (mode 777); remove it or chmod 700 it and start again\n`);
  });

  it.skipIf(process.getuid?.() !== 0)('refuses a socket folder that another user owns (needs root to create one)', async () => {
    mkdirSync(join(home.dir, 'run'), { mode: 0o700 });
    chownSync(join(home.dir, 'run'), 65534, 65534);
    const result = await runCli(home, ['run']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`codexd: socket folder ${join(home.dir, 'run')} belongs to uid 65534, not to this user (uid 0); refusing to use it\n`);
  });

  it('refuses to start a second daemon on a live socket', async () => {
    daemon = await startDaemonProcess(home);
    const second = await runCli(home, ['run']);
    expect(second.code).toBe(1);
    expect(second.stderr).toBe(`codexd: a codexd daemon is already running on ${home.socketPath}\n`);
    expect((await daemon.status()).pid).toBe(daemon.child.pid);
  });

  it('replaces a stale socket file that nobody listens on', async () => {
    // A process that bound the socket and was killed leaves the file behind.
    mkdirSync(join(home.dir, 'run'), { mode: 0o700 });
    const holder = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(home.socketPath)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise((resolve) => holder.stdout.once('data', resolve));
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    expect(statSync(home.socketPath).isSocket()).toBe(true);
    daemon = await startDaemonProcess(home);
    expect((await daemon.status()).pid).toBe(daemon.child.pid);
  });

  it('refuses to replace a file that is not a socket', async () => {
    mkdirSync(join(home.dir, 'run'), { mode: 0o700 });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(home.socketPath, 'precious');
    const result = await runCli(home, ['run']);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`codexd: ${home.socketPath} exists and is not a socket; refusing to replace it\n`);
    expect(readdirSync(join(home.dir, 'run'))).toEqual(['codexd.sock']);
  });

  it('refuses to start on an invalid config with exit code 2 naming the key', async () => {
    home.writeConfig('[otel]\nmetrics_exporter = { otlp-grpc = { endpoint = "localhost:4317" } }\n');
    const result = await runCli(home, ['run']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`codexd: ${join(home.codexHome, 'config.toml')}: otel.metrics_exporter.otlp-grpc.endpoint: expected a URL starting with http:// or https://\n`);
  });

  it('config check prints the settings with their sources and no secrets; config path says where it reads', async () => {
    const file = join(home.codexHome, 'config.toml');
    expect((await runCli(home, ['config', 'path'])).stdout).toBe(`${file}\n`);
    home.writeConfig(
      [
        'model = "gpt-5.1-codex"  # Codex\'s own keys are none of codexd\'s business',
        '[otel]',
        'environment = "prod"',
        'metrics_exporter = { otlp-grpc = { endpoint = "https://collector.example:4317", headers = { authorization = "Bearer sekret-123" } } }',
        '[feedback]',
        'sentry_dsn = "https://0123456789abcdef@sentry.example/42"',
        '[codexd]',
        'export_interval_ms = 1000',
        '',
      ].join('\n'),
    );
    const text = await runCli(home, ['config', 'check']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/otel\.environment\s+"prod"\s+\(file\)/);
    expect(text.stdout).toMatch(/codexd\.export_interval_ms\s+1000\s+\(file\)/);
    expect(text.stdout).toMatch(/codexd\.flush_deadline_ms\s+5000\s+\(default\)/);
    expect(text.stdout).not.toMatch(/sekret-123|0123456789abcdef/);
    const json = await runCli(home, ['config', 'check', '--json']);
    const parsed = JSON.parse(json.stdout) as { ok: boolean; settings: { key: string; value: unknown; source: string }[] };
    expect(parsed.ok).toBe(true);
    expect(parsed.settings.find((row) => row.key === 'otel.metrics_exporter')).toEqual({
      key: 'otel.metrics_exporter',
      value: { 'otlp-grpc': { endpoint: 'https://collector.example:4317', headers: { authorization: '[REDACTED]' } } },
      source: 'file',
    });
    expect(parsed.settings.find((row) => row.key === 'feedback.target')?.value).toEqual({ sentry_dsn: 'https://[REDACTED]@sentry.example/42' });
    expect(json.stdout).not.toMatch(/sekret-123|0123456789abcdef/);
  });

  it('refuses an unknown key, a wrong type or an invalid value, naming the file, the key and what is expected', async () => {
    const file = join(home.codexHome, 'config.toml');
    const cases: [string, string][] = [
      ['[otel]\nmetrics_exporterr = "none"\n', `${file}: otel.metrics_exporterr: expected one of environment, exporter, trace_exporter, metrics_exporter, log_user_prompt, span_attributes, tracestate (unknown key)`],
      ['[codexd]\nexport_intervall_ms = 5\n', `${file}: codexd.export_intervall_ms: expected one of socket, export_interval_ms, flush_deadline_ms, idle_timeout_ms, session_idle_timeout_ms, log_level, log_tool_content, file_exporter, export_queue_max_bytes, export_spool_max_bytes, export_retry_initial_ms, export_retry_max_ms, export_max_request_bytes, memory_limit_mib, memory_spike_limit_mib, otlp_receiver, downstream (unknown key)`],
      ['[codexd.file_exporter]\nfolder = "/tmp/x"\n', `${file}: codexd.file_exporter.folder: expected one of dir, max_file_bytes, max_files (unknown key)`],
      ['[otel]\nexporter = "statsig"\n', `${file}: otel.exporter: expected "statsig" with an API key in STATSIG_SERVER_SDK_SECRET (none is built in)`],
      ['[otel]\nspan_attributes = { a = 1 }\n', `${file}: otel.span_attributes: expected a table of string values`],
      // Headers that could not go on the wire are refused, never dropped on the way; the value is never shown.
      [
        '[otel]\nexporter = { otlp-http = { endpoint = "http://localhost:4318", headers = { "x api key" = "k" } } }\n',
        `${file}: otel.exporter.otlp-http.headers."x api key": expected a header name of letters, digits and !#$%&'*+.^_\`|~-`,
      ],
      [
        '[otel]\nmetrics_exporter = { otlp-grpc = { endpoint = "http://localhost:4317", headers = { authorization = "Bearer sekret\\r\\nx-evil: 1" } } }\n',
        `${file}: otel.metrics_exporter.otlp-grpc.headers.authorization: expected a string of printable ASCII (no line breaks or control characters)`,
      ],
      // A URL the parser cannot take is refused here, naming the key, not when a sender parses it.
      ['[otel]\nexporter = { otlp-http = { endpoint = "http://[::1" } }\n', `${file}: otel.exporter.otlp-http.endpoint: expected a URL starting with http:// or https://`],
      ['[otel]\nmetrics_exporter = { otlp-grpc = { endpoint = "http://[::1" } }\n', `${file}: otel.metrics_exporter.otlp-grpc.endpoint: expected a URL starting with http:// or https://`],
      ['[feedback]\nendpoint = "https://exa mple.com/feedback"\n', `${file}: feedback.endpoint: expected a URL starting with https:// (or http:// for a local receiver)`],
      ['[otel.tracestate.Congo]\nalpha = "one"\n', `${file}: otel.tracestate.Congo: expected a W3C tracestate key: lowercase letters, digits, _ - * /, starting with a letter or digit, or tenant@system`],
      ['[otel.tracestate.congo]\nalpha = "one,two"\n', `${file}: otel.tracestate.congo.alpha: expected a value of printable ASCII without spaces at its ends, nor , = ; or :`],
      [`[otel.tracestate.congo]\nalpha = "${'x'.repeat(300)}"\n`, `${file}: otel.tracestate.congo: expected a member of at most 256 characters once encoded as name:value;…`],
    ];
    for (const [toml, message] of cases) {
      home.writeConfig(toml);
      const check = await runCli(home, ['config', 'check']);
      expect(check.code).toBe(2);
      expect(check.stderr).toBe(`codexd: ${message}\n`);
    }
    // Keys of Codex's own, outside the tables codexd reads, are left alone.
    home.writeConfig('approval_policy = "never"\n[mcp_servers.docs]\ncommand = "docs-server"\n');
    expect((await runCli(home, ['config', 'check'])).code).toBe(0);
  });

  it('resolves statsig and the standard OTLP variables, with header values never shown, and names a malformed variable', async () => {
    const check = async (): Promise<{ code: number | null; rows: Record<string, { value: unknown; source: string }>; stderr: string }> => {
      const result = await runCli(home, ['config', 'check', '--json']);
      const parsed = result.code === 0 ? (JSON.parse(result.stdout) as { settings: { key: string; value: unknown; source: string }[] }) : { settings: [] };
      return { code: result.code, stderr: result.stderr, rows: Object.fromEntries(parsed.settings.map((row) => [row.key, row])) };
    };
    home.writeConfig('[otel]\nexporter = "statsig"\n');
    home.env.STATSIG_SERVER_SDK_SECRET = 'secret-statsig-key';
    // The generic variables do not redirect statsig.
    home.env.OTEL_EXPORTER_OTLP_ENDPOINT = 'http://collector.example:4318';
    home.env.OTEL_EXPORTER_OTLP_PROTOCOL = 'http/json';
    home.env.OTEL_EXPORTER_OTLP_METRICS_HEADERS = 'authorization=Bearer%20tok-9,x-team=codex';
    try {
      const statsig = await check();
      expect(statsig.code, statsig.stderr).toBe(0);
      expect(statsig.rows['otel.exporter']?.value).toEqual({ 'otlp-http': { endpoint: 'https://api.statsig.com/otlp', headers: { 'statsig-api-key': '[REDACTED]' }, protocol: 'json' } });
      // Metrics: no exporter in the file, so the variables choose: OTLP/HTTP JSON with their headers.
      expect(statsig.rows['otel.metrics_exporter']).toEqual({
        key: 'otel.metrics_exporter',
        value: { 'otlp-http': { endpoint: 'http://collector.example:4318', headers: { authorization: '[REDACTED]', 'x-team': '[REDACTED]' }, protocol: 'json' } },
        source: 'environment',
      });
      expect(JSON.stringify(statsig.rows)).not.toMatch(/secret-statsig-key|tok-9/);
      // A signal's own endpoint variable is its full URL: nothing is appended to it.
      home.writeConfig('');
      home.env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT = 'http://collector.example:4318/custom/logs';
      const exact = await check();
      expect(exact.rows['otel.exporter']?.value).toEqual({ 'otlp-http': { endpoint: 'http://collector.example:4318/custom/logs', headers: {}, protocol: 'json', url: 'exact (from a per-signal variable)' } });
      // The request timeout: a signal's own variable before the generic one.
      home.env.OTEL_EXPORTER_OTLP_TIMEOUT = '2500';
      home.env.OTEL_EXPORTER_OTLP_METRICS_TIMEOUT = '700';
      const timed = await check();
      expect(timed.rows['otel.exporter']?.value).toMatchObject({ 'otlp-http': { timeout_ms: 2500 } });
      expect(timed.rows['otel.metrics_exporter']?.value).toMatchObject({ 'otlp-http': { timeout_ms: 700 } });
      home.env.OTEL_EXPORTER_OTLP_METRICS_TIMEOUT = 'soon';
      const badTimeout = await runCli(home, ['config', 'check']);
      expect(badTimeout.stderr).toBe('codexd: OTEL_EXPORTER_OTLP_METRICS_TIMEOUT: expected a positive whole number of milliseconds\n');
      delete home.env.OTEL_EXPORTER_OTLP_TIMEOUT;
      delete home.env.OTEL_EXPORTER_OTLP_METRICS_TIMEOUT;
      delete home.env.OTEL_EXPORTER_OTLP_LOGS_ENDPOINT;
      // TLS settings with an endpoint that is not https are refused, whatever set the endpoint.
      const ca = join(home.dir, 'ca.pem');
      writeFileSync(ca, 'not checked at load');
      home.writeConfig(`[otel]\nmetrics_exporter = { otlp-grpc = { tls = { ca-certificate = "${ca}" } } }\n`);
      delete home.env.OTEL_EXPORTER_OTLP_ENDPOINT;
      const plain = await runCli(home, ['config', 'check']);
      expect(plain.code).toBe(2);
      expect(plain.stderr).toBe(`codexd: ${join(home.codexHome, 'config.toml')}: otel.metrics_exporter: its tls table needs an https:// endpoint, and the endpoint is "http://localhost:4317"\n`);
      home.writeConfig('');
      home.env.OTEL_EXPORTER_OTLP_METRICS_HEADERS = 'no-equals-sign';
      const bad = await runCli(home, ['config', 'check']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toBe('codexd: OTEL_EXPORTER_OTLP_METRICS_HEADERS: expected name=value pairs separated by commas; "no-equals-sign" is not one\n');
      delete home.env.OTEL_EXPORTER_OTLP_METRICS_HEADERS;
      // A malformed endpoint variable is named, by config check and by run alike (exit 2).
      home.env.OTEL_EXPORTER_OTLP_ENDPOINT = 'http://[::1';
      for (const args of [['config', 'check'], ['run', '--log-stderr']]) {
        const malformed = await runCli(home, args);
        expect(malformed.code, args.join(' ')).toBe(2);
        expect(malformed.stderr).toContain('codexd: OTEL_EXPORTER_OTLP_ENDPOINT: expected a URL starting with http:// or https://\n');
      }
    } finally {
      for (const name of ['STATSIG_SERVER_SDK_SECRET', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_METRICS_HEADERS', 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', 'OTEL_EXPORTER_OTLP_TIMEOUT', 'OTEL_EXPORTER_OTLP_METRICS_TIMEOUT']) {
        delete home.env[name];
      }
    }
  });
});
