import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { afterEach, describe, expect, it } from 'vitest';

import { type BoundedMessageReader, createBoundedMessageReader } from '../daemon/bounded-message-reader.js';
import { encodeFrame, ErrorCodes } from '../protocol/index.js';

interface Served {
  readonly reader: BoundedMessageReader;
  /** What the reader handed on and what it answered itself, in the order it did. */
  readonly seen: string[];
  readonly client: Socket;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A reader over the daemon's end of a real Unix socket, and the client's end. */
async function serve(): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), 'codexd-reader-'));
  const path = join(dir, 's.sock');
  const seen: string[] = [];
  let served: ((reader: BoundedMessageReader) => void) | null = null;
  const server: Server = createServer((socket) => {
    const reader = createBoundedMessageReader(socket, 1024 * 1024, {
      partialFrames: { held: 0 },
      pendingIds: new Set(),
      memory: { holding: () => false, whenReleased: () => () => undefined },
      onFatal: (code) => seen.push(`fatal ${code}`),
      onInvalid: (_id, code) => seen.push(`invalid ${code}`),
      onReserved: (_id, method) => seen.push(`reserved ${method}`),
    });
    reader.listen((message) => seen.push(`message ${(message as unknown as { params: { n: number } }).params.n}`));
    served?.(reader);
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  const reader = new Promise<BoundedMessageReader>((resolve) => (served = resolve));
  const client = createConnection(path);
  cleanups.push(() => {
    client.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { reader: await reader, seen, client };
}

async function until(condition: () => boolean): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 2000) throw new Error('timed out');
    await sleep(5);
  }
}

const note = (n: number): Buffer => encodeFrame({ jsonrpc: '2.0', method: 'session/event', params: { n } });

describe('bounded message reader', () => {
  it('parses and hands on one message at a time, the next once the library takes it up, answering bad frames in their place', async () => {
    const { reader, seen, client } = await serve();
    const notJson = Buffer.from('Content-Length: 5\r\n\r\n{nope', 'latin1');
    const reserved = encodeFrame({ jsonrpc: '2.0', method: '$/setTrace', params: {} });
    client.write(Buffer.concat([note(1), note(2), notJson, reserved, note(3), note(4)]));
    await until(() => seen.length > 0);
    // Every frame has been read; only the first is parsed and handed on.
    await sleep(50);
    expect(seen).toEqual(['message 1']);
    expect(reader.isQuiet(0)).toBe(false);
    reader.taken();
    expect(seen).toEqual(['message 1', 'message 2']);
    reader.taken();
    expect(seen).toEqual(['message 1', 'message 2', `invalid ${ErrorCodes.ParseError}`, 'reserved $/setTrace', 'message 3']);
    // Handing on does not wait for a message to be handled (an async handler may take long).
    reader.taken();
    expect(seen.at(-1)).toBe('message 4');
    for (let i = 0; i < 4; i++) reader.handled();
    reader.taken();
    expect(reader.isQuiet(0)).toBe(true);
  });

  it('hands on what came before a broken frame, then reports the break', async () => {
    const { reader, seen, client } = await serve();
    client.write(Buffer.concat([note(1), note(2), Buffer.from('Content-Length: x\r\n\r\n', 'latin1'), note(3)]));
    await until(() => seen.length > 0);
    await sleep(50);
    expect(seen).toEqual(['message 1']);
    reader.taken();
    reader.taken();
    expect(seen).toEqual(['message 1', 'message 2', `fatal ${ErrorCodes.FramingError}`]);
  });
});
