/**
 * The hand-off file's check (protocol/handoff.ts): what the client writes passes, files of older
 * clients still read, and a bad file is refused with a message naming the field.
 */
import { describe, expect, it } from 'vitest';

import { checkHandoff, type Handoff } from '../protocol/index.js';

const written: Handoff = {
  version: 1,
  clientInfo: { name: 'codex-cli', version: '1.0.0' },
  resource: { 'service.name': 'codex_exec' },
  pid: 4242,
  records: [{ name: 'codex.tool.call', kind: 'counter', value: 3, tags: { tool: 'shell' }, sessionId: 's-1' }],
  events: [{ sessionId: 's-1', name: 'codex.tool_result', time: 1_700_000_000_000 }],
  spans: [],
  sessions: [{ sessionId: 's-1', attributes: { model: 'gpt-5.1-codex' } }],
  dropped: { client_buffer_full: 2 },
  eventsDropped: { invalid_event: 1 },
  spansDropped: { client_span_open: 1 },
};

describe('hand-off file check', () => {
  it('takes what the client writes, as it was written', () => {
    const checked = checkHandoff(JSON.parse(JSON.stringify(written)));
    expect(checked).toEqual({
      ok: true,
      value: {
        clientInfo: written.clientInfo,
        resource: written.resource,
        records: written.records,
        events: written.events,
        spans: [],
        sessions: written.sessions,
        dropped: written.dropped,
        eventsDropped: written.eventsDropped,
        spansDropped: written.spansDropped,
      },
    });
  });

  it("still reads an older client's file: records only, no resource, events, spans or sessions", () => {
    const checked = checkHandoff({ version: 1, clientInfo: { name: 'codex-cli', version: '0.1.0' }, pid: 7, records: [] });
    expect(checked).toEqual({
      ok: true,
      value: { clientInfo: { name: 'codex-cli', version: '0.1.0' }, resource: undefined, records: [], events: [], spans: [], sessions: [], dropped: undefined, eventsDropped: undefined, spansDropped: undefined },
    });
  });

  it('leaves the items to be checked one by one, a malformed client and malformed sessions out, without refusing the file', () => {
    const checked = checkHandoff({ version: 1, clientInfo: 'codex', records: [42, { name: '' }], sessions: [{ sessionId: '' }, { sessionId: 's-2' }, 'x'] });
    expect(checked.ok).toBe(true);
    if (!checked.ok) return;
    expect(checked.value.records).toEqual([42, { name: '' }]);
    expect(checked.value.clientInfo).toBeNull();
    expect(checked.value.sessions.map((session) => session.sessionId)).toEqual(['s-2']);
  });

  it.each([
    ['not an object', [1], 'version: not a version 1 hand-off'],
    ['a later version', { ...written, version: 2 }, 'version: not a version 1 hand-off'],
    ['no records', { ...written, records: undefined }, 'records: must be an array'],
    ['records not a list', { ...written, records: {} }, 'records: must be an array'],
    ['events not a list', { ...written, events: 'x' }, 'events: must be an array'],
    ['spans not a list', { ...written, spans: null }, 'spans: must be an array'],
    ['an unknown drop reason', { ...written, dropped: { lost: 1 } }, /^dropped: params\.dropped\.lost: unknown reason/],
    ['a negative event drop count', { ...written, eventsDropped: { invalid_event: -1 } }, 'eventsDropped: params.dropped.invalid_event: must be a non-negative integer'],
    ['span drops not an object', { ...written, spansDropped: 3 }, 'spansDropped: params.dropped: must be an object of counts'],
    ['a bad resource', { ...written, resource: { 'service.name': { nested: true } } }, /^resource\.service\.name: /],
  ])('refuses a file with %s, naming the field', (_name, file, message) => {
    const checked = checkHandoff(file);
    expect(checked.ok).toBe(false);
    if (checked.ok) return;
    if (typeof message === 'string') expect(checked.message).toBe(message);
    else expect(checked.message).toMatch(message);
  });
});
