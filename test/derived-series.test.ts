/**
 * The metrics a batch of events derives are recorded by series: what the SDK aggregates from
 * them is what it would have from each measurement alone, in fewer records, each measurement
 * still counted.
 */
import { describe, expect, it } from 'vitest';

import { createDerivedSeries, type DerivedSeries } from '../daemon/derived-series.js';
import { measurementsIn } from '../protocol/index.js';

/** A tool call's two measurements, as the event ingest adds them. */
function call(series: DerivedSeries, tool: string, success: string, durationMs: number, sessionId = 's-1'): void {
  const tags = { tool, success };
  series.add(sessionId, 1, 'codex.tool.call', 'counter', 1, tags);
  series.add(sessionId, 1, 'codex.tool.call.duration_ms', 'histogram', durationMs, tags);
}

describe('derived series', () => {
  it('gathers a series\' measurements into values, counters and histograms alike, and keeps sessions and tag sets apart', () => {
    const series = createDerivedSeries();
    call(series, 'shell', 'true', 10);
    call(series, 'shell', 'true', 20);
    call(series, 'shell', 'false', 5);
    call(series, 'shell', 'true', 30, 's-2');
    series.add('s-1', 2, 'codex.turn.ttft.duration_ms', 'histogram', 640, {});
    const records = series.take();
    const find = (name: string, success: string, sessionId = 's-1') => records.filter((record) => record.name === name && record.sessionId === sessionId && record.tags?.success === success);
    expect(find('codex.tool.call', 'true')).toMatchObject([{ kind: 'counter', values: [1, 1], tags: { tool: 'shell', success: 'true' } }]);
    expect(measurementsIn(records)).toBe(9);
    expect(find('codex.tool.call.duration_ms', 'true')).toMatchObject([{ kind: 'histogram', values: [10, 20] }]);
    expect(find('codex.tool.call.duration_ms', 'true')[0]).not.toHaveProperty('value');
    expect(find('codex.tool.call', 'false')).toMatchObject([{ value: 1 }]);
    // A series of one histogram value stays as it came.
    expect(find('codex.tool.call.duration_ms', 'true', 's-2')).toMatchObject([{ value: 30 }]);
    expect(records.find((record) => record.name === 'codex.turn.ttft.duration_ms')).toMatchObject({ sessionId: 's-1', time: 2, value: 640, tags: {} });
    expect(records).toHaveLength(7);
  });

  it('puts series in the order of their latest measurement, so the latest event is read last', () => {
    const series = createDerivedSeries();
    call(series, 'shell', 'true', 10);
    call(series, 'shell', 'false', 5);
    call(series, 'shell', 'true', 30);
    const records = series.take().filter((record) => record.kind === 'histogram');
    expect(records.map((record) => record.tags?.success)).toEqual(['false', 'true']);
    expect(records.at(-1)).toMatchObject({ values: [10, 30] });
  });
});
