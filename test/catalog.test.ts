import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { renderEventsDoc, renderMetricsDoc } from '../daemon/catalog-docs.js';
import { EVENT_CATALOG, logOnlyFields, METRIC_CATALOG, metricNameProblem, tagsProblem } from '../protocol/index.js';

describe('catalog', () => {
  it('names only metrics and tags the protocol accepts, each once', () => {
    for (const metric of METRIC_CATALOG) {
      expect(metricNameProblem(metric.name), metric.name).toBeNull();
      expect(tagsProblem(Object.fromEntries(metric.tags.map((tag) => [tag, 'x']))), metric.name).toBeNull();
    }
    expect(new Set(METRIC_CATALOG.map((metric) => metric.name)).size).toBe(METRIC_CATALOG.length);
    expect(new Set(EVENT_CATALOG.map((event) => event.name)).size).toBe(EVENT_CATALOG.length);
  });

  it('keeps content and identity off the trace lane', () => {
    // As Codex splits them: the MCP server names and the profile go to its logs only.
    expect([...logOnlyFields()].sort()).toEqual(['active_profile', 'arguments', 'mcp_servers', 'output', 'prompt', 'user.account_id', 'user.email']);
  });

  it('docs/metrics.md and docs/events.md are what `npm run docs` generates from it', () => {
    expect(readFileSync(new URL('../docs/metrics.md', import.meta.url), 'utf8')).toBe(renderMetricsDoc());
    expect(readFileSync(new URL('../docs/events.md', import.meta.url), 'utf8')).toBe(renderEventsDoc());
  });
});
