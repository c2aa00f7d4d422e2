/** Renders `daemon/status` as the readable table `codexd status` prints. */
import type { DaemonStatus, SignalCounts, ToolsMetrics } from '../protocol/index.js';

function duration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h${minutes % 60}m`;
}

function bytes(count: number): string {
  if (count < 1024) return `${count} B`;
  if (count < 1024 * 1024) return `${(count / 1024).toFixed(1)} KiB`;
  return `${(count / 1024 / 1024).toFixed(1)} MiB`;
}

function reasons(map: Readonly<Record<string, number>>): string {
  const entries = Object.entries(map).filter(([, count]) => count > 0);
  return entries.length === 0 ? '' : ` (${entries.map(([reason, count]) => `${reason} ${count}`).join(', ')})`;
}

function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, column) => (widths[column] = Math.max(widths[column] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column] ?? 0))).join('  ')).join('\n');
}

function signalRow(name: string, counts: SignalCounts): string[] {
  return [name, String(counts.received), String(counts.rejectedTotal), String(counts.buffered), String(counts.exported), String(counts.droppedTotal)];
}

export function formatStatus(status: DaemonStatus.Result): string {
  const lines: string[] = [
    `codexd ${status.serverInfo.version} (protocol ${status.protocolVersion}), pid ${status.pid}, up ${duration(status.uptimeMs)}`,
    `socket  ${status.socketPath}`,
    `started ${status.startedBy}${status.idleExitAfterMs === null ? '' : `, exits after ${duration(status.idleExitAfterMs)} idle`}`,
  ];
  if (status.logFile !== null) lines.push(`log     ${status.logFile}`);
  // A daemon older than the field leaves it out of its status.
  const logFailure = status.logFailure ?? null;
  const journalFailure = status.journalFailure ?? null;
  if (journalFailure !== null) lines.push(`journal: writes fail since ${journalFailure.at} (${journalFailure.error}); requests are answered "not durable" until one succeeds`);
  if (logFailure !== null) lines.push(`log: writing ${status.logFile ?? 'the log'} failed at ${logFailure.at} (${logFailure.error}); ${logFailure.linesDropped} lines dropped since, until the daemon restarts`);
  const otlp = status.otlpReceiver ?? null;
  if (otlp !== null) {
    if (otlp.error !== null) lines.push(`otlp: ${otlp.error}`);
    const endpoints = [otlp.http === null ? '' : `http://${otlp.http}/v1/{traces,logs,metrics}`, (otlp.grpc ?? null) === null ? '' : `grpc ${otlp.grpc}`].filter(Boolean);
    if (endpoints.length > 0) {
      const taken = (bySender: Readonly<Record<string, number>>, noun: string): string => {
        const senders = Object.entries(bySender);
        const total = senders.reduce((sum, [, count]) => sum + count, 0);
        return `${total} ${noun} taken${senders.length > 0 ? ` (${senders.map(([sender, count]) => `${sender} ${count}`).join(', ')})` : ''}`;
      };
      lines.push(
        `otlp    ${endpoints.join(', ')} (${otlp.tokenFile === null ? 'no token required' : `token in ${otlp.tokenFile}`}); ${taken(otlp.spansBySender, 'spans')}, ${taken(otlp.logsBySender, 'log records')}, ${taken(otlp.metricPointsBySender ?? {}, 'metric points')}` +
          `${Object.keys(otlp.spansRefused).length > 0 ? `; spans refused${reasons(otlp.spansRefused)}` : ''}${Object.keys(otlp.logsRefused).length > 0 ? `; log records refused${reasons(otlp.logsRefused)}` : ''}` +
          `${Object.keys(otlp.metricPointsRefused ?? {}).length > 0 ? `; metric points refused${reasons(otlp.metricPointsRefused)}` : ''}` +
          `${Object.keys(otlp.redacted).length > 0 ? `; redacted${reasons(otlp.redacted)}` : ''}` +
          `${Object.keys(otlp.requests).length > 0 ? `; HTTP answers${reasons(otlp.requests)}` : ''}${Object.keys(otlp.grpcRequests ?? {}).length > 0 ? `; gRPC answers${reasons(otlp.grpcRequests)}` : ''}`,
      );
    }
  }
  for (const condition of status.disk ?? []) {
    lines.push(`disk: ${condition.place.replace('_', ' ')} ${condition.path}: writes fail since ${condition.since} (${condition.error}, ${condition.failures} failed); ${condition.effect}`);
  }
  const memory = status.memory ?? null;
  if (memory !== null) {
    const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
    const limits = `soft ${mib(memory.softLimitBytes)}, hard ${mib(memory.hardLimitBytes)}`;
    // An older daemon does not count releases.
    const released = (memory.released ?? 0) > 0 ? `; gave back ${mib(memory.releasedBytes)} after load (${memory.released}×)` : '';
    lines.push(`memory  ${mib(memory.heldBytes)} held (${limits}), RSS ${mib(memory.rssBytes)}${memory.softEntered > 0 ? `; over the soft limit ${memory.softEntered}×, the hard ${memory.hardEntered}×` : ''}${released}`);
    if (memory.state !== 'ok') {
      const what = memory.state === 'hard' ? 'telemetry that arrives is refused (dropped: memory_limited)' : 'telemetry connections are not read; their clients hold what they send';
      lines.push(`memory: over the ${memory.state} limit since ${memory.since}; ${memory.pausedConnections} connections waiting; ${what}`);
    }
  }
  const config = status.config;
  lines.push(`config  ${config.file ?? '(no file: defaults)'}, read ${config.loadedAt}${config.reloads > 0 ? `, ${config.reloads} reload${config.reloads === 1 ? '' : 's'}` : ''}`);
  const last = config.lastReload;
  if (last !== null && !last.ok) lines.push(`last reload: refused (${last.trigger}) at ${last.at}: ${last.error ?? ''}; the settings read before stay`);
  if (config.needsRestart.length > 0) lines.push(`changed, takes effect at the next start: ${config.needsRestart.join(', ')}`);
  const signals = Object.entries(status.signals);
  lines.push('', table([['signal', 'received', 'rejected', 'buffered', 'exported', 'dropped'], ...signals.map(([name, counts]) => signalRow(name, counts))]));
  for (const [name, counts] of signals) {
    if (counts.rejectedTotal > 0) lines.push(`${name} rejected by reason:${reasons(counts.rejected)}`);
    if (counts.droppedTotal > 0) lines.push(`${name} dropped by reason:${reasons(counts.dropped)}`);
  }
  const events = status.events;
  const eventNotes = [
    ...(Object.keys(events.redacted).length > 0 ? [`redacted${reasons(events.redacted)}`] : []),
    ...(Object.keys(events.laneOverrides).length > 0 ? [`kept off traces${reasons(events.laneOverrides)}`] : []),
    ...(events.invalidTraceContext > 0 ? [`${events.invalidTraceContext} invalid trace contexts ignored`] : []),
    ...(events.derivedMeasurements > 0 ? [`${events.derivedMeasurements} metric measurements derived`] : []),
    // A daemon older than the field leaves it out of its status.
    ...(Object.keys(events.derivationsMissed ?? {}).length > 0 ? [`metrics not derived${reasons(events.derivationsMissed)}`] : []),
  ];
  if (eventNotes.length > 0) lines.push(`events: ${eventNotes.join('; ')}`);
  // A daemon older than these fields leaves them out of its status.
  const spans = status.spans ?? { laneOverrides: {}, withSession: 0 };
  const spanNotes = [
    ...(Object.keys(spans.laneOverrides).length > 0 ? [`log-only fields kept off${reasons(spans.laneOverrides)}`] : []),
    ...(spans.withSession > 0 ? [`${spans.withSession} with a session's context`] : []),
  ];
  if (spanNotes.length > 0) lines.push(`host spans: ${spanNotes.join('; ')}`);
  if ((status.resources?.overflow ?? 0) > 0) lines.push(`resources: ${status.resources.held} held; ${status.resources.overflow} hosts past the bound went under the daemon's own`);
  // A daemon older than the field leaves it out of its status.
  const refusedHandoff = status.handoff.refused ?? {};
  if (Object.keys(refusedHandoff).length > 0) lines.push(`hand-off folder: entries not read, set aside${reasons(refusedHandoff)}`);
  const sessions = status.sessions;
  lines.push(`sessions: ${sessions.active} active (${sessions.started} started, ${sessions.ended} ended, ${sessions.expired} expired)`);
  if (sessions.logBytes > 0) lines.push(`  log rings: ${bytes(sessions.logBytes)} of lines kept for feedback${sessions.logPackedBytes > 0 ? ` (the packed ones take ${bytes(sessions.logPackedBytes)})` : ''}`);
  const feedback = status.feedback;
  lines.push(
    `feedback: ${feedback.pending} pending, ${feedback.uploaded} uploaded, ${feedback.failed} failed (spool ${feedback.spoolBytes} bytes); ` +
      (feedback.uploader === null ? 'no endpoint configured, reports wait in the spool' : `uploads to ${feedback.endpoint ?? '-'} (${feedback.uploader})`),
  );
  const protocolTotal = Object.values(status.protocolErrors).reduce((sum, count) => sum + count, 0);
  if (protocolTotal > 0) lines.push(`refused messages:${reasons(status.protocolErrors)}`);
  lines.push(
    '',
    table([
      ['exporter', 'signal', 'state', 'endpoint', 'ok', 'failed', 'last success', 'last error'],
      ...status.exporters.map((exporter) => [
        exporter.kind,
        exporter.signal,
        exporter.state,
        exporter.endpoint ?? '-',
        String(exporter.exportsSucceeded),
        String(exporter.exportsFailed),
        exporter.lastSuccessAt ?? '-',
        exporter.lastError === null ? '-' : `${exporter.lastError.at} ${exporter.lastError.message}`,
      ]),
    ]),
  );
  for (const exporter of status.exporters) {
    const queue = exporter.queue;
    if (queue === undefined) continue;
    const parts = [
      `${queue.memoryBatches} batches (${bytes(queue.memoryBytes)}) in memory`,
      `${queue.spooledSegments} segments (${bytes(queue.spooledBytes)}) on disk`,
      ...(queue.oldestAgeMs === null ? [] : [`oldest ${duration(queue.oldestAgeMs)}`]),
      ...(queue.failures > 0 ? [`${queue.failures} failures in a row, next attempt ${queue.nextAttemptAt ?? 'now'}`] : []),
      ...(queue.replayed.exported + queue.replayed.dropped > 0 ? [`sent ${queue.replayed.exported} records from disk (${queue.replayed.dropped} refused)`] : []),
    ];
    lines.push(`queue ${exporter.signal}: ${parts.join(', ')}`);
  }
  for (const exporter of status.exporters) {
    for (const spool of exporter.otherSpools ?? []) {
      lines.push(`spool ${exporter.signal}/${spool.kind}: ${spool.segments} segments (${bytes(spool.bytes)}) wait for a ${exporter.signal} exporter of that kind`);
    }
  }
  lines.push('');
  if (status.clients.length === 0) lines.push('clients: none connected');
  else {
    lines.push(
      table([
        ['client', 'version', 'service', 'pid', 'connected', 'records', 'events', 'spans'],
        ...status.clients.map((client) => [
          client.name,
          client.version,
          client.serviceName || '-',
          client.pid === null ? '-' : String(client.pid),
          client.connectedAt,
          String(client.recordsReceived),
          String(client.eventsReceived),
          String(client.spansReceived ?? 0),
        ]),
      ]),
    );
  }
  return lines.join('\n');
}

/** Renders `tools/metrics` as the table `codexd status --tools` prints. */
export function formatTools(result: ToolsMetrics.Result): string {
  const names = Object.keys(result.tools).sort();
  if (names.length === 0) return 'tools: none recorded (codex.tool_result events, or codex.tool.call metrics with a tool tag)';
  return table([
    ['tool', 'success', 'failure', 'last latency ms', 'total latency ms', 'last error'],
    ...names.map((name) => {
      const tool = result.tools[name] as ToolsMetrics.Result['tools'][string];
      return [name, String(tool.success), String(tool.failure), tool.lastLatencyMs === null ? '-' : tool.lastLatencyMs.toFixed(1), tool.totalLatencyMs.toFixed(1), tool.lastError ?? '-'];
    }),
  ]);
}
