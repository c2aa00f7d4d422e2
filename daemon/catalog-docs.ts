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
  const section = (name: string, description: string, fields: readonly EventField[], isEvent = true, derives: readonly string[] = []): string[] => [
    isEvent ? `## \`${name}\`` : `## ${name}`,
    '',
    description,
    '',
    ...(derives.length === 0 ? [] : [`Derived metrics: ${code(derives)}.`, '']),
    '| field | lane | description |',
    '| --- | --- | --- |',
    ...fields.map((field) => `| \`${field.name}\` | ${laneName(field)}${field.redaction === undefined ? '' : `, redacted unless ${field.redaction === 'user_prompt' ? 'allowed by the session and `[otel] log_user_prompt`' : '`[codexd] log_tool_content`'}`} | ${field.description} |`),
    '',
  ];
  return [
    GENERATED,
    '',
    '# Session events',
    '',
    "The session events Codex emits, as codexd's catalog knows them, with the lane of each field. The daemon enforces the lanes for every `session/event`: a log-only field goes to the log lane alone, whatever bag a client puts it in (counted in `daemon/status` as a lane override); trace-safe and common fields also reach traces. Redaction is by field name, in any event. Events the catalog does not list are accepted under the general rules, and the metrics listed as derived are recorded by the daemon from the event, so a client does not record them itself.",
    '',
    ...section('Every session event', 'Fields every session event carries: its session context (`session/start` attributes) and what the daemon adds. Session attributes outside this list are carried too, under the same lane rule.', SESSION_EVENT_FIELDS, false),
    ...EVENT_CATALOG.flatMap((event) => section(event.name, event.description, event.fields, true, event.derives)),
  ].join('\n');
}
