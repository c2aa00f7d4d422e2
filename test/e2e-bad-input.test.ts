/**
 * Bad input over a real socket. Each case gets the documented error, or the one connection is
 * closed for a framing violation; meanwhile a well-behaved client keeps recording on its own
 * connection, and every one of its records must arrive. At the end, status must count exactly
 * what was sent and refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ErrorCodes, MAX_BATCH_RECORDS, MAX_MESSAGE_BYTES } from '../protocol/index.js';
import { createTestHome, type DaemonProcess, grpcConfig, runCli, startDaemonProcess, type TestHome } from './support/daemon.js';
import { type OtlpReceiver, startOtlpReceiver } from './support/otlp-receiver.js';
import { openRawPeer, type RawPeer, rawFrame } from './support/raw-client.js';

function errorOf(reply: Record<string, unknown>): { code: number; message: string } {
  expect(reply.error, JSON.stringify(reply)).toBeDefined();
  return reply.error as { code: number; message: string };
}

describe('bad input over a real socket', () => {
  let home: TestHome;
  let receiver: OtlpReceiver;
  let daemon: DaemonProcess;
  let good: RawPeer;
  let goodSent = 0;
  let goodId = 100;
  // What status must show at the end.
  const expected = { received: 0, accepted: 0, rejected: {} as Record<string, number>, protocolErrors: {} as Record<string, number> };
  const bump = (map: Record<string, number>, key: string, count = 1): void => {
    map[key] = (map[key] ?? 0) + count;
  };

  /** The well-behaved client records a batch and must see it fully accepted. */
  async function goodBatch(): Promise<void> {
    const records = Array.from({ length: 50 }, (_, index) => ({ name: 'codex.good.calls', kind: 'counter', value: 1, tags: { step: String(index % 5) } }));
    const reply = await good.request(goodId++, 'metric/record', { records });
    expect(reply.result).toEqual({ accepted: 50, rejected: [] });
    goodSent += 50;
    expected.received += 50;
    expected.accepted += 50;
  }

  beforeAll(async () => {
    home = createTestHome();
    receiver = await startOtlpReceiver();
    home.writeConfig(grpcConfig(receiver.endpoint, 300));
    daemon = await startDaemonProcess(home);
    good = await openRawPeer(home.socketPath);
    expect((await good.initialize('good-client')).result).toMatchObject({
      protocolVersion: 1,
      serverInfo: { name: 'codexd' },
      limits: { maxMessageBytes: MAX_MESSAGE_BYTES, maxBatchRecords: MAX_BATCH_RECORDS },
    });
  });

  afterAll(async () => {
    good?.destroy();
    await daemon?.stop();
    await receiver?.close();
    home?.remove();
  });

  it('answers a request before initialize with "not initialized" (-32002)', async () => {
    const peer = await openRawPeer(home.socketPath);
    const status = errorOf(await peer.request(1, 'daemon/status', {}));
    expect(status.code).toBe(ErrorCodes.NotInitialized);
    expect(status.message).toMatch(/not initialized/);
    const record = errorOf(await peer.request(2, 'metric/record', { records: [{ name: 'codex.x', kind: 'counter', value: 1 }] }));
    expect(record.code).toBe(-32002);
    bump(expected.protocolErrors, 'not_initialized', 2);
    peer.destroy();
    await goodBatch();
  });

  it('refuses initialize with bad params, a protocol version it does not speak, or twice', async () => {
    const peer = await openRawPeer(home.socketPath);
    const missing = errorOf(await peer.request(1, 'initialize', { protocolVersion: 1 }));
    expect(missing).toMatchObject({ code: ErrorCodes.InvalidParams, message: expect.stringContaining('params.clientInfo') });
    bump(expected.protocolErrors, 'invalid_params');
    // An older protocol is refused and the daemon stays (a newer one makes it step aside: see the lifecycle tests).
    const future = errorOf(await peer.request(2, 'initialize', { protocolVersion: 0, clientInfo: { name: 'ancient', version: '0.0.1' } }));
    expect(future.code).toBe(ErrorCodes.UnsupportedProtocolVersion);
    expect(future.message).toMatch(/protocolVersion: 0 is not supported; this daemon speaks 1/);
    expect((future as { data?: unknown }).data).toEqual({ supported: [1], serverVersion: expect.any(String) });
    bump(expected.protocolErrors, 'unsupported_protocol_version');
    expect((await peer.initialize()).result).toBeDefined();
    const twice = errorOf(await peer.initialize());
    expect(twice.code).toBe(ErrorCodes.AlreadyInitialized);
    bump(expected.protocolErrors, 'already_initialized');
    peer.destroy();
    await goodBatch();
  });

  it('answers malformed JSON with a parse error (-32700) and keeps the connection', async () => {
    const peer = await openRawPeer(home.socketPath);
    await peer.initialize();
    peer.write(rawFrame('{"jsonrpc":"2.0","id":5,"method":'));
    const reply = await peer.next();
    expect(reply.id).toBeNull();
    expect(errorOf(reply).code).toBe(ErrorCodes.ParseError);
    bump(expected.protocolErrors, 'parse_error');
    // The stream is still in sync: the next request is answered.
    expect((await peer.request(6, 'daemon/status', {})).result).toBeDefined();
    peer.destroy();
    await goodBatch();
  });

  it('answers JSON that is not JSON-RPC with invalid request (-32600)', async () => {
    const peer = await openRawPeer(home.socketPath);
    await peer.initialize();
    peer.write(rawFrame('{"id":7,"method":"daemon/status"}'));
    const noVersion = await peer.next();
    expect(noVersion.id).toBe(7);
    expect(errorOf(noVersion)).toMatchObject({ code: ErrorCodes.InvalidRequest, message: expect.stringContaining('jsonrpc') });
    peer.write(rawFrame('[{"jsonrpc":"2.0","id":8,"method":"daemon/status"}]'));
    expect(errorOf(await peer.next())).toMatchObject({ code: ErrorCodes.InvalidRequest, message: expect.stringContaining('batch') });
    peer.write(rawFrame('{"jsonrpc":"2.0","id":9,"method":"metric/record","params":"records"}'));
    expect(errorOf(await peer.next()).code).toBe(ErrorCodes.InvalidRequest);
    bump(expected.protocolErrors, 'invalid_request', 3);
    peer.destroy();
    await goodBatch();
  });

  it('answers unknown methods with -32601 and counts unknown notifications', async () => {
    const peer = await openRawPeer(home.socketPath);
    await peer.initialize();
    const reply = errorOf(await peer.request(3, 'metric/delete', {}));
    expect(reply).toEqual({ code: ErrorCodes.MethodNotFound, message: 'unknown method "metric/delete"' });
    peer.send({ jsonrpc: '2.0', method: 'metric/forget', params: {} });
    bump(expected.protocolErrors, 'unknown_method', 2);
    expect((await peer.request(4, 'daemon/status', {})).result).toBeDefined();
    peer.destroy();
    await goodBatch();
  });

  it('answers params of the wrong type with -32602 naming the field', async () => {
    const peer = await openRawPeer(home.socketPath);
    await peer.initialize();
    expect(errorOf(await peer.request(1, 'metric/record', { records: 'many' }))).toEqual({
      code: ErrorCodes.InvalidParams,
      message: 'params.records: must be an array',
    });
    expect(errorOf(await peer.request(2, 'metric/record', { records: [], dropped: { client_buffer_full: -1 } })).message).toBe(
      'params.dropped.client_buffer_full: must be a non-negative integer',
    );
    expect(errorOf(await peer.request(3, 'daemon/flush', { timeoutMs: 'soon' })).code).toBe(ErrorCodes.InvalidParams);
    bump(expected.protocolErrors, 'invalid_params', 3);
    expect(errorOf(await peer.request(4, 'metric/record', { records: Array.from({ length: MAX_BATCH_RECORDS + 1 }, () => ({ name: 'codex.big', kind: 'counter', value: 1 })) }))).toMatchObject({
      code: ErrorCodes.BatchTooLarge,
      message: `params.records: ${MAX_BATCH_RECORDS + 1} measurements exceed the batch limit of ${MAX_BATCH_RECORDS}`,
    });
    bump(expected.protocolErrors, 'batch_too_large');
    expected.received += MAX_BATCH_RECORDS + 1;
    bump(expected.rejected, 'invalid_batch', MAX_BATCH_RECORDS + 1);
    peer.destroy();
    await goodBatch();
  });

  it('rejects invalid records one by one, naming index, field and rule, and accepts the rest', async () => {
    const peer = await openRawPeer(home.socketPath);
    await peer.initialize();
    const records: unknown[] = [
      { name: 'codex.mixed', kind: 'counter', value: 2, tags: { tool: 'shell' } },
      { name: '', kind: 'counter', value: 1 },
      { name: 'codex bad name', kind: 'counter', value: 1 },
      { name: '9starts.with.digit', kind: 'counter', value: 1 },
      { name: 'codex.mixed', kind: 'counter', value: -1 },
      { name: 'codex.mixed', kind: 'counter', value: '3' },
      { name: 'codex.mixed', kind: 'counter', value: null },
      { name: 'codex.mixed', kind: 'meter', value: 1 },
      { name: 'codex.mixed', kind: 'counter', value: 1, tags: { 'bad key': 'x' } },
      { name: 'codex.mixed', kind: 'counter', value: 1, tags: { tool: 'has space' } },
      { name: 'codex.mixed', kind: 'counter', value: 1, tags: { tool: 'x'.repeat(257) } },
      { name: 'codex.mixed', kind: 'counter', value: 1, tags: { tool: 7 } },
      { name: 'codex.mixed', kind: 'counter', value: 1, tags: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`k${i}`, 'v'])) },
      { name: 'codex.mixed', kind: 'counter', value: 1, sessionId: '' },
      { name: 'codex.mixed', kind: 'counter', value: 1, time: -5 },
      'not a record',
      { name: 'codex.mixed', kind: 'histogram', value: 1 },
      { name: 'codex.mixed', kind: 'counter', value: 3, tags: { tool: 'read' }, sessionId: 'session-1', time: Date.now() },
      // Off the wire, "__proto__" is an ordinary key; merged with the session's tags it would vanish.
      { name: 'codex.mixed', kind: 'counter', value: 5, tags: JSON.parse('{"tool":"read","__proto__":"x"}') as unknown, sessionId: 'session-1' },
    ];
    // The last record names a session: it must exist.
    expect((await peer.request(99, 'session/start', { sessionId: 'session-1' })).result).toBeDefined();
    const reply = await peer.request(1, 'metric/record', { records });
    const result = reply.result as { accepted: number; rejected: { index: number; code: string; message: string }[] };
    expect(result.accepted).toBe(2);
    expect(result.rejected.map(({ index, code }) => [index, code])).toEqual([
      [1, 'invalid_name'],
      [2, 'invalid_name'],
      [3, 'invalid_name'],
      [4, 'negative_counter'],
      [5, 'invalid_value'],
      [6, 'invalid_value'],
      [7, 'invalid_kind'],
      [8, 'invalid_tag_key'],
      [9, 'invalid_tag_value'],
      [10, 'invalid_tag_value'],
      [11, 'invalid_tag_value'],
      [12, 'too_many_tags'],
      [13, 'invalid_session_id'],
      [14, 'invalid_time'],
      [15, 'invalid_record'],
      [16, 'kind_conflict'],
      [18, 'invalid_tag_key'],
    ]);
    const messages = Object.fromEntries(result.rejected.map(({ index, message }) => [index, message]));
    expect(messages[1]).toBe('records[1].name: must not be empty');
    expect(messages[4]).toBe('records[4].value: a counter increment must not be negative');
    expect(messages[10]).toBe('records[10].tags.tool: value exceeds 256 characters');
    expect(messages[16]).toBe('records[16].kind: metric "codex.mixed" is already a counter');
    expect(messages[18]).toBe('records[18].tags."__proto__": key "__proto__" is reserved');
    expected.received += records.length;
    expected.accepted += 2;
    for (const { code } of result.rejected) bump(expected.rejected, code);

    // The same checks as a notification: no reply, but every rejection is counted.
    peer.send({ jsonrpc: '2.0', method: 'metric/record', params: { records: [{ name: 'codex.mixed', kind: 'counter', value: -4 }, { name: 'codex.mixed', kind: 'counter', value: 4, tags: { tool: 'write' } }] } });
    expected.received += 2;
    expected.accepted += 1;
    bump(expected.rejected, 'negative_counter');
    expect((await peer.request(2, 'daemon/status', {})).result).toBeDefined();
    peer.destroy();
    await goodBatch();

    await daemon.request('daemon/flush', {});
    expect(receiver.sumOf('codex.mixed', { tool: 'shell' })).toBe(2);
    expect(receiver.sumOf('codex.mixed', { tool: 'read' })).toBe(3);
    expect(receiver.sumOf('codex.mixed', { tool: 'write' })).toBe(4);
    expect(receiver.sumOf('codex.mixed')).toBe(9);
  });

  it('takes histogram values as an array, counting each value, and rejects a bad values array as a whole', async () => {
    const peer = await openRawPeer(home.socketPath);
    await peer.initialize();
    const records: unknown[] = [
      { name: 'codex.values_ms', kind: 'histogram', values: [1, 2, 3, 4], tags: { tool: 'shell' } },
      { name: 'codex.values_ms', kind: 'histogram', values: [] },
      { name: 'codex.values_ms', kind: 'histogram', values: [5, 'six'] },
      { name: 'codex.values_ms', kind: 'histogram', value: 1, values: [1] },
      { name: 'codex.values_count', kind: 'counter', values: [1, 2] },
      // A negative observation has no bucket: refused, not accepted and lost.
      { name: 'codex.values_ms', kind: 'histogram', values: [7, -1], tags: { tool: 'shell' } },
      { name: 'codex.values_ms', kind: 'histogram', value: -0.5, tags: { tool: 'shell' } },
    ];
    const reply = await peer.request(1, 'metric/record', { records });
    expect(reply.result).toEqual({
      accepted: 4,
      rejected: [
        { index: 1, code: 'invalid_value', message: 'records[1].values: must be a non-empty array of finite numbers' },
        { index: 2, code: 'invalid_value', message: 'records[2].values[1]: must be a finite number' },
        { index: 3, code: 'invalid_value', message: 'records[3].values: give either value or values, not both' },
        { index: 4, code: 'invalid_value', message: 'records[4].values: only histograms take a values array' },
        { index: 5, code: 'invalid_value', message: 'records[5].values[1]: a histogram value must not be negative' },
        { index: 6, code: 'invalid_value', message: 'records[6].value: a histogram value must not be negative' },
      ],
    });
    // Measurements: 4 + 1 (an empty array counts as one record) + 2 + 1 + 2 + 2 + 1.
    expected.received += 13;
    expected.accepted += 4;
    bump(expected.rejected, 'invalid_value', 9);
    // The batch limit counts values too.
    const tooMany = errorOf(await peer.request(2, 'metric/record', { records: [{ name: 'codex.values_ms', kind: 'histogram', values: new Array(MAX_BATCH_RECORDS + 1).fill(1) }] }));
    expect(tooMany).toEqual({ code: ErrorCodes.BatchTooLarge, message: `params.records: ${MAX_BATCH_RECORDS + 1} measurements exceed the batch limit of ${MAX_BATCH_RECORDS}` });
    bump(expected.protocolErrors, 'batch_too_large');
    expected.received += MAX_BATCH_RECORDS + 1;
    bump(expected.rejected, 'invalid_batch', MAX_BATCH_RECORDS + 1);
    peer.destroy();
    await daemon.request('daemon/flush', {});
    expect(receiver.histogramTotals('codex.values_ms', { tool: 'shell' })).toEqual({ count: 4, sum: 10 });
    await goodBatch();
  });

  it('closes the connection after a Content-Length over the limit (-32004), without reading the body', async () => {
    const peer = await openRawPeer(home.socketPath);
    await peer.initialize();
    peer.write(`Content-Length: ${MAX_MESSAGE_BYTES + 1}\r\n\r\n{"jsonrpc":`);
    const reply = await peer.next();
    expect(reply.id).toBeNull();
    expect(errorOf(reply)).toEqual({ code: ErrorCodes.MessageTooLarge, message: `message of ${MAX_MESSAGE_BYTES + 1} bytes exceeds the limit of ${MAX_MESSAGE_BYTES} bytes` });
    await peer.closed;
    bump(expected.protocolErrors, 'message_too_large');
    await goodBatch();
  });

  it('closes the connection after a malformed header (-32005)', async () => {
    for (const header of ['Content-Length: twelve\r\n\r\n{}', 'Content-Type: application/json\r\n\r\n{}', 'garbage without a colon\r\n\r\n']) {
      const peer = await openRawPeer(home.socketPath);
      peer.write(header);
      expect(errorOf(await peer.next()).code).toBe(ErrorCodes.FramingError);
      await peer.closed;
      bump(expected.protocolErrors, 'framing_error');
    }
    // A header that never ends is refused once it passes the header limit.
    const endless = await openRawPeer(home.socketPath);
    endless.write(`X-Padding: ${'a'.repeat(2000)}`);
    expect(errorOf(await endless.next()).message).toMatch(/frame header exceeds 1024 bytes/);
    await endless.closed;
    bump(expected.protocolErrors, 'framing_error');
    await goodBatch();
  });

  it('survives a wrong Content-Length: a short one desynchronises only that connection', async () => {
    const peer = await openRawPeer(home.socketPath);
    await peer.initialize();
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'daemon/status', params: {} });
    peer.write(rawFrame(body, body.length - 10));
    expect(errorOf(await peer.next()).code).toBe(ErrorCodes.ParseError);
    bump(expected.protocolErrors, 'parse_error');
    // The leftover bytes are read as the next header, which is malformed: the connection closes.
    peer.write('\r\n\r\n');
    expect(errorOf(await peer.next()).code).toBe(ErrorCodes.FramingError);
    await peer.closed;
    bump(expected.protocolErrors, 'framing_error');
    await goodBatch();
  });

  it('keeps serving when a client disconnects mid-frame', async () => {
    const peer = await openRawPeer(home.socketPath);
    await peer.initialize();
    const body = JSON.stringify({ jsonrpc: '2.0', method: 'metric/record', params: { records: [{ name: 'codex.lost', kind: 'counter', value: 1 }] } });
    peer.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 20)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    peer.destroy();
    await goodBatch();
    await goodBatch();
  });

  it("survives malformed reserved '$/' messages and refuses '$/' requests (-32601)", async () => {
    const peer = await openRawPeer(home.socketPath);
    // vscode-jsonrpc throws on these in its data handler; the daemon must not pass them on.
    peer.send({ jsonrpc: '2.0', method: '$/cancelRequest' });
    peer.send({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: null } });
    expect(errorOf(await peer.request(1, '$/setTrace', { value: 'verbose' }))).toEqual({ code: ErrorCodes.MethodNotFound, message: 'unknown method "$/setTrace"' });
    bump(expected.protocolErrors, 'unknown_method', 3);
    expect((await peer.initialize()).result).toBeDefined();
    peer.destroy();
    await goodBatch();
  });

  it('refuses a request whose id is still pending, params by position, and unknown drop reasons', async () => {
    const peer = await openRawPeer(home.socketPath);
    await peer.initialize();
    // Both frames arrive in one write: the first is still pending when the second is read.
    const status = JSON.stringify({ jsonrpc: '2.0', id: 'same', method: 'daemon/status', params: {} });
    peer.write(rawFrame(status) + rawFrame(status));
    const replies = [await peer.next(), await peer.next()];
    const refused = replies.find((reply) => reply.error !== undefined);
    expect(errorOf(refused as Record<string, unknown>)).toEqual({ code: ErrorCodes.InvalidRequest, message: 'id: "same" is already used by a request still pending' });
    // Not under the duplicate id: that would read as the answer to the first request.
    expect(refused?.id).toBeNull();
    expect(replies.find((reply) => reply.result !== undefined)?.id).toBe('same');
    expect(replies.filter((reply) => reply.result !== undefined)).toHaveLength(1);
    bump(expected.protocolErrors, 'invalid_request');
    // Once answered, the id is free again.
    expect((await peer.request('same' as unknown as number, 'daemon/status', {})).result).toBeDefined();

    expect(errorOf(await peer.request(2, 'metric/record', [{ records: [] }] as unknown as object))).toEqual({
      code: ErrorCodes.InvalidRequest,
      message: 'params: must be an object (parameters by name)',
    });
    bump(expected.protocolErrors, 'invalid_request');
    expect(errorOf(await peer.request(3, 'metric/record')).message).toBe('params.records: must be an array');
    expect(errorOf(await peer.request(4, 'metric/record', { records: [], dropped: { made_up: 1 } })).message).toMatch(/^params\.dropped\.made_up: unknown reason/);
    bump(expected.protocolErrors, 'invalid_params', 2);
    peer.destroy();
    await goodBatch();
  });

  it('answers a client that half-closes its side after sending', async () => {
    const peer = await openRawPeer(home.socketPath);
    await peer.initialize();
    peer.send({ jsonrpc: '2.0', id: 9, method: 'metric/record', params: { records: [{ name: 'codex.halfclose', kind: 'counter', value: 4 }] } });
    peer.send({ jsonrpc: '2.0', id: 10, method: 'daemon/flush', params: {} });
    peer.socket.end();
    expect((await peer.next()).result).toEqual({ accepted: 1, rejected: [] });
    // The flush answers after an export: the daemon must wait for it before ending its side.
    expect((await peer.next()).result).toMatchObject({ complete: true, timedOut: false });
    await peer.closed;
    expected.received += 1;
    expected.accepted += 1;
    await goodBatch();
  });

  it('delivered every record of the well-behaved client, and status counts exactly what was sent', async () => {
    const flush = await daemon.request<{ complete: boolean }>('daemon/flush', {});
    expect(flush.complete).toBe(true);
    expect(receiver.sumOf('codex.good.calls')).toBe(goodSent);
    expect(receiver.sumOf('codex.lost')).toBe(0);

    const cli = await runCli(home, ['status', '--json']);
    expect(cli.code, cli.stderr).toBe(0);
    const status = JSON.parse(cli.stdout) as { signals: { metrics: Record<string, unknown> }; protocolErrors: Record<string, number> };
    const rejectedTotal = Object.values(expected.rejected).reduce((sum, count) => sum + count, 0);
    expect(expected.received).toBe(expected.accepted + rejectedTotal);
    expect(status.signals.metrics).toEqual({
      received: expected.received,
      accepted: expected.accepted,
      rejected: expected.rejected,
      rejectedTotal,
      buffered: 0,
      exported: expected.accepted,
      failed: 0,
      spooled: 0,
      dropped: {},
      droppedTotal: 0,
    });
    expect(status.protocolErrors).toEqual(expected.protocolErrors);
  });
});
