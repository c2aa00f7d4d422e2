/**
 * Renders docs/metrics.md and docs/events.md from the catalog in protocol/. Pure: the writing
 * is done by write-catalog-docs.ts (`npm run docs`), and a test fails when the files are stale.
 */
import { EVENT_CATALOG, type EventField, METRIC_CATALOG, SESSION_EVENT_FIELDS, SESSION_TAG_KEYS } from '../protocol/index.js';

const GENERATED = '<!-- Generated from protocol/catalog.ts by `npm run docs`. Do not edit by hand. -->';

function code(items: readonly string[]): string {
  return items.length === 0 ? '—' : items.map((item) => `\`${item}\``).join(', ');
}

function laneName(field: EventField): string {
  return field.lane === 'log_only' ? 'logs only' : field.lane === 'trace_safe' ? 'logs and traces (trace-safe)' : 'logs and traces';
}

export function renderMetricsDoc(): string {
  const rows = METRIC_CATALOG.map((metric) => `| \`${metric.name}\` | ${metric.kind} | ${code(metric.tags)} | ${metric.description} |`);
  return [
    GENERATED,
    '',
    '# Metrics',
    '',
    "The metrics Codex records, as codexd's catalog knows them. The catalog is a guide, not a closed list: any metric whose name and tags pass the protocol's rules is accepted (see PROTOCOL.md).",
    '',
    `A metric recorded with a \`sessionId\` also carries the session tags ${code(SESSION_TAG_KEYS)} and \`client.name\`.`,
    '',
    '| metric | kind | tags | description |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}

export function renderEventsDoc(): string {
  const section = (name: string, description: string, fields: readonly EventField[], isEvent = true): string[] => [
    isEvent ? `## \`${name}\`` : `## ${name}`,
    '',
    description,
    '',
    '| field | lane | description |',
    '| --- | --- | --- |',
    ...fields.map((field) => `| \`${field.name}\` | ${laneName(field)} | ${field.description} |`),
    '',
  ];
  return [
    GENERATED,
    '',
    '# Session events',
    '',
    "The session events Codex emits, as codexd's catalog knows them, with the lane of each field: a log-only field may go to the log lane alone, whatever lane a client gives it; trace-safe and common fields may also reach traces. codexd does not accept `session/event` yet; this is the catalog it will enforce, and events it does not list will be accepted under the general rules.",
    '',
    ...section('Every session event', 'Fields every session event carries from its session (`session/start`).', SESSION_EVENT_FIELDS, false),
    ...EVENT_CATALOG.flatMap((event) => section(event.name, event.description, event.fields)),
  ].join('\n');
}
