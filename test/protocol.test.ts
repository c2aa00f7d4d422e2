import { describe, expect, it } from 'vitest';

import {
  checkEventBatch,
  checkInitializeParams,
  checkMetricBatch,
  createBodyDecoder,
  createFrameDecoder,
  encodeFrame,
  ErrorCodes,
  isValidTracestate,
  MAX_BATCH_EVENTS,
  MAX_BATCH_RECORDS,
  MAX_RESOURCE_ATTRIBUTE_LENGTH,
  MAX_TIME_MS,
  metricNameProblem,
  parseBody,
  parseTraceparent,
  resolveSocketPath,
  tagsProblem,
} from '../protocol/index.js';

describe('framing', () => {
  it('decodes frames split at every byte boundary, multi-byte characters included', () => {
    const messages = [
      { jsonrpc: '2.0', method: 'metric/record', params: { records: [{ name: 'codex.x', kind: 'counter', value: 1, tags: { note: 'héllo-✓' } }] } },
      { jsonrpc: '2.0', id: 7, method: 'daemon/status', params: {} },
    ];
    const bytes = Buffer.concat(messages.map((message) => encodeFrame(message)));
    for (let split = 1; split < bytes.length; split++) {
      const decoder = createFrameDecoder();
      const frames = [...decoder.push(bytes.subarray(0, split)), ...decoder.push(bytes.subarray(split))];
      expect(frames).toEqual(messages.map((message) => ({ kind: 'message', message, bytes: Buffer.byteLength(JSON.stringify(message)) })));
      expect(decoder.pendingBytes).toBe(0);
    }
  });

  it('decodes frames that come a few bytes at a time, bodies put together from many chunks', () => {
    const messages = [
      { jsonrpc: '2.0', method: 'session/event', params: { events: [{ sessionId: 's-1', name: 'codex.sse_event', attributes: { text: 'ü✓'.repeat(40) } }] } },
      { jsonrpc: '2.0', id: 8, method: 'daemon/status', params: {} },
      { jsonrpc: '2.0', method: 'metric/record', params: { records: [{ name: 'codex.x', kind: 'counter', value: 1 }] } },
    ];
    const bytes = Buffer.concat(messages.map((message) => encodeFrame(message)));
    for (const size of [1, 2, 3, 7, 64]) {
      const decoder = createFrameDecoder();
      const frames = [];
      for (let at = 0; at < bytes.length; at += size) frames.push(...decoder.push(bytes.subarray(at, at + size)));
      expect(frames, `chunks of ${size}`).toEqual(messages.map((message) => ({ kind: 'message', message, bytes: Buffer.byteLength(JSON.stringify(message)) })));
      expect(decoder.pendingBytes).toBe(0);
    }
  });

  it('decodes frames of every size read as a socket reads them, two decoders taking turns', () => {
    // Bodies put together from reads of 64 KiB, around the 1 MiB the shared assembly buffer keeps;
    // each frame's last read carries the start of the next. Two connections' reads interleave.
    const sizes = [10, 70_000, 200_000, 1_100_000, 5, 900_000];
    const messages = sizes.map((size, index) => ({ jsonrpc: '2.0', method: 'session/event', params: { index, text: 'é✓x'.repeat(Math.ceil(size / 6)) } }));
    const bytes = Buffer.concat(messages.map((message) => encodeFrame(message)));
    const decoders = [createFrameDecoder(), createFrameDecoder()];
    const frames: unknown[][] = [[], []];
    for (let at = 0; at < bytes.length; at += 65_536) {
      for (const [index, decoder] of decoders.entries()) frames[index]?.push(...decoder.push(bytes.subarray(at, at + 65_536)));
    }
    for (const [index, decoder] of decoders.entries()) {
      expect(frames[index]).toEqual(messages.map((message) => ({ kind: 'message', message, bytes: Buffer.byteLength(JSON.stringify(message)) })));
      expect(decoder.pendingBytes).toBe(0);
    }
  });

  it('keeps bodies handed on unparsed intact while later frames are put together', () => {
    // Bodies from reads of 64 KiB, parsed only once every frame is read: one put together from
    // several reads must not share memory the next one is assembled in.
    const sizes = [70_000, 10, 200_000, 150_000, 5];
    const messages = sizes.map((size, index) => ({ jsonrpc: '2.0', method: 'session/event', params: { index, text: 'é✓x'.repeat(Math.ceil(size / 6)) } }));
    const bytes = Buffer.concat(messages.map((message) => encodeFrame(message)));
    const decoder = createBodyDecoder();
    const frames = [];
    for (let at = 0; at < bytes.length; at += 65_536) frames.push(...decoder.push(bytes.subarray(at, at + 65_536)));
    expect(frames.map((frame) => frame.kind)).toEqual(sizes.map(() => 'body'));
    expect(frames.map((frame) => (frame.kind === 'body' ? parseBody(frame) : frame))).toEqual(messages.map((message) => ({ kind: 'message', message, bytes: Buffer.byteLength(JSON.stringify(message)) })));
    expect(decoder.pendingBytes).toBe(0);
  });

  it('counts Content-Length in bytes, not characters', () => {
    const frame = encodeFrame({ text: '✓✓' }).toString('utf8');
    expect(frame.startsWith(`Content-Length: ${Buffer.byteLength('{"text":"✓✓"}')}\r\n\r\n`)).toBe(true);
  });

  it('accepts header names in any case and other headers beside Content-Length', () => {
    const decoder = createFrameDecoder();
    const body = '{"a":1}';
    expect(decoder.push(Buffer.from(`content-type: application/vscode-jsonrpc; charset=utf-8\r\ncontent-LENGTH: ${body.length}\r\n\r\n${body}`))).toEqual([
      { kind: 'message', message: { a: 1 }, bytes: 7 },
    ]);
  });

  it('refuses an oversized frame from its header, before the body arrives', () => {
    const decoder = createFrameDecoder({ maxBodyBytes: 100 });
    expect(decoder.push(Buffer.from('Content-Length: 101\r\n\r\n'))).toEqual([
      { kind: 'fatal', code: ErrorCodes.MessageTooLarge, error: 'message of 101 bytes exceeds the limit of 100 bytes' },
    ]);
    expect(decoder.push(Buffer.from('{}'))).toEqual([]);
  });

  it('reports invalid JSON without losing the stream', () => {
    const decoder = createFrameDecoder();
    const frames = decoder.push(Buffer.from(`Content-Length: 3\r\n\r\n{x}Content-Length: 2\r\n\r\n{}`));
    expect(frames[0]?.kind).toBe('invalid-json');
    expect(frames[1]).toEqual({ kind: 'message', message: {}, bytes: 2 });
  });

  it('applies the header limit the same way however the bytes are split', () => {
    const header = `Content-Length: 2${' '.repeat(1024 - 'Content-Length: 2'.length)}`;
    expect(Buffer.byteLength(header)).toBe(1024);
    const whole = Buffer.from(`${header}\r\n\r\n{}`);
    for (let split = 1; split < whole.length; split++) {
      const decoder = createFrameDecoder();
      const frames = [...decoder.push(whole.subarray(0, split)), ...decoder.push(whole.subarray(split))];
      expect(frames, `split at ${split}`).toEqual([{ kind: 'message', message: {}, bytes: 2 }]);
    }
    expect(createFrameDecoder().push(Buffer.from(`${header} \r\n\r\n{}`))[0]).toMatchObject({ kind: 'fatal', error: 'frame header exceeds 1024 bytes' });
  });

  it('refuses a header without Content-Length, with a bad one, or one that never ends', () => {
    expect(createFrameDecoder().push(Buffer.from('X-Foo: 1\r\n\r\n'))[0]).toMatchObject({ kind: 'fatal', code: ErrorCodes.FramingError });
    expect(createFrameDecoder().push(Buffer.from('Content-Length: -3\r\n\r\n'))[0]).toMatchObject({ kind: 'fatal', error: 'Content-Length "-3" is not a byte count' });
    expect(createFrameDecoder({ maxHeaderBytes: 16 }).push(Buffer.from('Content-Length: 1'.padEnd(40, ' ')))[0]).toMatchObject({
      kind: 'fatal',
      error: 'frame header exceeds 16 bytes',
    });
  });
});

describe('validation', () => {
  it('follows Codex name rules, narrowed to a leading letter and 255 characters', () => {
    expect(metricNameProblem('codex.tool.call_duration-ms')).toBeNull();
    expect(metricNameProblem('')).toBe('must not be empty');
    expect(metricNameProblem('codex tool')).toMatch(/only A-Z/);
    expect(metricNameProblem('codex/tool')).toMatch(/only A-Z/);
    expect(metricNameProblem('_codex')).toMatch(/start with a letter/);
    expect(metricNameProblem('a'.repeat(255))).toBeNull();
    expect(metricNameProblem('a'.repeat(256))).toBe('exceeds 255 characters');
    expect(metricNameProblem(42)).toBe('must be a string');
  });

  it('checks tag keys and values against Codex rules', () => {
    expect(tagsProblem({ tool: 'apply_patch', path: 'src/main.rs', model: 'gpt-5.1' })).toBeNull();
    expect(tagsProblem(undefined)).toBeNull();
    expect(tagsProblem({ tool: '' })).toMatchObject({ code: 'invalid_tag_value', field: 'tags.tool' });
    expect(tagsProblem({ '': 'x' })).toMatchObject({ code: 'invalid_tag_key' });
    expect(tagsProblem({ tool: 'a'.repeat(256) })).toBeNull();
    expect(tagsProblem({ tool: 'a'.repeat(257) })).toMatchObject({ message: 'value exceeds 256 characters' });
    expect(tagsProblem(['x'])).toMatchObject({ code: 'invalid_tags' });
    // A key an object cannot hold as a field (set on one, it would be lost): refused, as it comes off the wire.
    expect(tagsProblem(JSON.parse('{"tool":"shell","__proto__":"x"}'))).toEqual({ code: 'invalid_tag_key', field: 'tags."__proto__"', message: 'key "__proto__" is reserved' });
  });

  it('rejects a bad record alone and keeps the others, in order', () => {
    const checked = checkMetricBatch({
      records: [
        { name: 'codex.a', kind: 'counter', value: 1 },
        { name: 'codex.b', kind: 'gauge', value: Number.NaN },
        { name: 'codex.c', kind: 'gauge', value: -3.5 },
        { name: 'codex.d', kind: 'histogram', value: -3.5 },
      ],
      dropped: { client_buffer_full: 4, invalid_name: 0 },
    });
    expect(checked.ok).toBe(true);
    if (!checked.ok) return;
    // A gauge may be negative; a histogram's observation may not (no bucket counts it).
    expect(checked.value.records.map((record) => record.name)).toEqual(['codex.a', 'codex.c']);
    expect(checked.value.rejected).toEqual([
      { index: 1, code: 'invalid_value', message: 'records[1].value: must be a finite number' },
      { index: 3, code: 'invalid_value', message: 'records[3].value: a histogram value must not be negative' },
    ]);
    expect([...checked.value.dropped]).toEqual([['client_buffer_full', 4]]);
  });

  it('splits records into batches by measurements, never leaving a record out', async () => {
    const { batchEnd, measurementsIn } = await import('../protocol/index.js');
    const records = [{ value: 1 }, { values: [1, 2, 3] }, { value: 1 }, { values: new Array(9).fill(1) }, { value: 1 }];
    expect(measurementsIn(records)).toBe(15);
    expect(batchEnd(records, 0, 5)).toBe(3);
    expect(batchEnd(records, 3, 5)).toBe(4);
    expect(batchEnd(records, 4, 5)).toBe(5);
    expect(batchEnd(records, 5, 5)).toBe(5);
  });

  it('fails a batch envelope as a whole', () => {
    expect(checkMetricBatch(null)).toMatchObject({ ok: false });
    expect(checkMetricBatch({ records: {} })).toMatchObject({ ok: false, message: 'params.records: must be an array' });
    expect(checkMetricBatch({ records: new Array(MAX_BATCH_RECORDS + 1).fill({}) })).toMatchObject({ ok: false, tooLarge: true });
  });

  it('checks initialize params', () => {
    expect(checkInitializeParams({ protocolVersion: 1, clientInfo: { name: 'codex-tui', version: '0.50.0' }, processId: 42 })).toEqual({
      ok: true,
      value: { protocolVersion: 1, clientInfo: { name: 'codex-tui', version: '0.50.0' }, processId: 42 },
    });
    expect(checkInitializeParams({ protocolVersion: '1', clientInfo: { name: 'x', version: '1' } })).toMatchObject({ message: 'params.protocolVersion: must be an integer' });
    expect(checkInitializeParams({ protocolVersion: 1, clientInfo: { name: '', version: '1' } })).toMatchObject({ message: 'params.clientInfo.name: must be a non-empty string' });
    expect(checkInitializeParams({ protocolVersion: 1, clientInfo: { name: 'x', version: '1' }, processId: -1 })).toMatchObject({ ok: false });
  });

  it('takes a host resource in initialize and names a bad attribute', () => {
    const resource = { 'service.name': 'codex_exec', 'service.version': '0.169.0', os: 'Linux', pid: 42, ci: false };
    expect(checkInitializeParams({ protocolVersion: 1, clientInfo: { name: 'codex-exec', version: '0.169.0' }, resource })).toEqual({
      ok: true,
      value: { protocolVersion: 1, clientInfo: { name: 'codex-exec', version: '0.169.0' }, resource },
    });
    expect(checkInitializeParams({ protocolVersion: 1, clientInfo: { name: 'x', version: '1' }, resource: { os: { name: 'Linux' } } })).toEqual({ ok: false, message: 'params.resource.os: must be a string, a number or a boolean' });
    expect(checkInitializeParams({ protocolVersion: 1, clientInfo: { name: 'x', version: '1' }, resource: { os: 'x'.repeat(MAX_RESOURCE_ATTRIBUTE_LENGTH + 1) } })).toMatchObject({ message: `params.resource.os: value of ${MAX_RESOURCE_ATTRIBUTE_LENGTH + 1} characters exceeds ${MAX_RESOURCE_ATTRIBUTE_LENGTH}` });
  });

  it('refuses a record or event time past the Date range, which the daemon could not turn into a date', () => {
    const far = MAX_TIME_MS + 1;
    const records = checkMetricBatch({ records: [{ name: 'codex.a', kind: 'counter', value: 1, time: far }, { name: 'codex.a', kind: 'counter', value: 1, time: MAX_TIME_MS }] });
    expect(records.ok && records.value.rejected).toEqual([{ index: 0, code: 'invalid_time', message: `records[0].time: must be milliseconds since the Unix epoch, from 0 to ${MAX_TIME_MS}` }]);
    const events = checkEventBatch({ events: [{ sessionId: 's', name: 'codex.a', time: far }] });
    expect(events.ok && events.value.rejected).toEqual([{ index: 0, code: 'invalid_time', message: `events[0].time: must be milliseconds since the Unix epoch, from 0 to ${MAX_TIME_MS}` }]);
  });
});

describe('socket path', () => {
  const base = { platform: 'linux', env: {}, uid: 1000, tmpdir: '/tmp', username: 'ada' };
  it('prefers CODEXD_SOCKET, then config, then XDG_RUNTIME_DIR, then a per-uid temp folder', () => {
    expect(resolveSocketPath({ ...base, env: { CODEXD_SOCKET: '/x/s.sock', XDG_RUNTIME_DIR: '/run/user/1000' }, configured: '/c.sock' })).toBe('/x/s.sock');
    expect(resolveSocketPath({ ...base, env: { XDG_RUNTIME_DIR: '/run/user/1000' }, configured: '/c.sock' })).toBe('/c.sock');
    expect(resolveSocketPath({ ...base, env: { XDG_RUNTIME_DIR: '/run/user/1000' } })).toBe('/run/user/1000/codexd/codexd.sock');
    expect(resolveSocketPath(base)).toBe('/tmp/codexd-1000/codexd.sock');
    expect(resolveSocketPath({ ...base, env: { XDG_RUNTIME_DIR: 'relative' } })).toBe('/tmp/codexd-1000/codexd.sock');
  });
  it('keeps shared runtime files beside the socket, or in a per-user temp folder for a named pipe', async () => {
    const { runtimeFolder } = await import('../protocol/index.js');
    expect(runtimeFolder('/run/user/1000/codexd/codexd.sock', '/tmp', 'ada')).toBe('/run/user/1000/codexd');
    expect(runtimeFolder('\\\\.\\pipe\\codexd-ada', 'C:/Users/ada/AppData/Local/Temp', 'Ada L')).toBe('C:/Users/ada/AppData/Local/Temp/codexd-Ada_L');
  });

  it('uses $TMPDIR on macOS and a named pipe on Windows', () => {
    expect(resolveSocketPath({ ...base, platform: 'darwin', env: { TMPDIR: '/var/folders/xy/T/', XDG_RUNTIME_DIR: '/run/x' } })).toBe('/var/folders/xy/T/codexd-1000/codexd.sock');
    expect(resolveSocketPath({ ...base, platform: 'win32', uid: null, username: 'Ada Lovelace' })).toBe('\\\\.\\pipe\\codexd-Ada_Lovelace');
  });
});

describe('version', () => {
  it('PACKAGE_VERSION is the version in package.json', async () => {
    const { readFileSync } = await import('node:fs');
    const { PACKAGE_VERSION } = await import('../protocol/index.js');
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(PACKAGE_VERSION).toBe(manifest.version);
  });
});

describe('trace context', () => {
  it('parses a W3C traceparent and refuses the malformed ones', () => {
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      sampled: true,
    });
    expect(parseTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00')?.sampled).toBe(false);
    // A later version may append fields; version 00 may not.
    expect(parseTraceparent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra')).not.toBeNull();
    for (const bad of [
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      '00-not-a-trace-01',
      42,
    ]) {
      expect(parseTraceparent(bad)).toBeNull();
    }
  });

  it('checks tracestate members', () => {
    expect(isValidTracestate('congo=t61rcWkgMzE,rojo=00f067aa0ba902b7')).toBe(true);
    expect(isValidTracestate('tenant@vendor=value, ,x=y')).toBe(true);
    expect(isValidTracestate('bad state')).toBe(false);
    expect(isValidTracestate('a=1,a=2')).toBe(false);
    expect(isValidTracestate('a=b,c')).toBe(false);
    expect(isValidTracestate(Array.from({ length: 33 }, (_, index) => `k${index}=v`).join(','))).toBe(false);
  });
});

describe('session/event checks', () => {
  it('refuses a batch over the limit as a whole and names each bad event', () => {
    const tooLarge = checkEventBatch({ events: Array.from({ length: MAX_BATCH_EVENTS + 1 }, () => ({})) });
    expect(tooLarge).toMatchObject({ ok: false, tooLarge: true });
    const reserved = JSON.parse('{"sessionId":"s","name":"codex.x","traceSafe":{"tool_name":"shell","__proto__":"x"}}') as unknown;
    const checked = checkEventBatch({ events: [{ sessionId: 's', name: 'codex.x', attributes: { n: Number.NaN } }, { sessionId: '', name: 'codex.x' }, { sessionId: 's', name: 'codex.ok', logOnly: { 'a.b': true } }, reserved] });
    expect(checked.ok && checked.value.rejected).toEqual([
      { index: 0, code: 'invalid_attributes', message: 'events[0].attributes.n: must be a finite number' },
      { index: 1, code: 'invalid_session_id', message: 'events[1].sessionId: must be a non-empty string of at most 256 characters' },
      { index: 3, code: 'invalid_attributes', message: 'events[3].traceSafe."__proto__": key "__proto__" is reserved' },
    ]);
    expect(checked.ok && checked.value.items.map((entry) => entry.index)).toEqual([2]);
  });
});
