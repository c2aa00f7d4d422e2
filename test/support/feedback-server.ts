/**
 * A real HTTP receiver for feedback uploads, on 127.0.0.1 and a free port. It keeps every
 * request as it arrived (raw body bytes included) and parses Sentry envelopes by their `length`
 * fields, so a test sees what went over the wire rather than what an uploader meant to send.
 * It can be told to answer with any status and headers, or never to answer.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface RecordedRequest {
  readonly method: string;
  /** Path and query as the client sent them. */
  readonly path: string;
  /** Lower-cased names, as node:http gives them. */
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface EnvelopeItem {
  /** The item's header line: `type`, `length`, and for attachments `filename` and `content_type`. */
  readonly header: JsonObject;
  readonly type: string;
  /** Exactly the payload's bytes. */
  readonly payload: Buffer;
}

export interface ParsedEnvelope {
  readonly header: JsonObject;
  readonly items: readonly EnvelopeItem[];
  /** The `event` item's payload as JSON, when there is one. */
  readonly event: JsonObject | null;
  /** The `attachment` items. */
  readonly attachments: readonly EnvelopeItem[];
}

export interface FeedbackServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** Every request received in full, in arrival order (a hung one too). */
  requests(): readonly RecordedRequest[];
  /** JSON bodies of the requests that were not Sentry envelopes. */
  reports(): JsonObject[];
  /** The Sentry envelopes received, parsed. Throws when one is malformed, failing the test. */
  envelopes(): ParsedEnvelope[];
  /** Answers what follows with `code` and `headers` (default: 200, no extra headers). */
  setStatus(code: number, headers?: Readonly<Record<string, string>>): void;
  /** While true, requests are read and recorded but never answered. */
  setHang(hang: boolean): void;
  /** Stops listening and destroys open connections (hung requests included). */
  close(): Promise<void>;
}

const ENVELOPE_CONTENT_TYPE = 'application/x-sentry-envelope';
const NEWLINE = 0x0a;

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJsonObject(text: string, what: string): JsonObject {
  const value: unknown = JSON.parse(text);
  if (!isJsonObject(value)) throw new Error(`${what} is not a JSON object`);
  return value;
}

/** Reads up to the next newline (or the end); returns the line and the offset after the newline. */
function readLine(body: Buffer, offset: number): { line: string; next: number } {
  const end = body.indexOf(NEWLINE, offset);
  const stop = end === -1 ? body.length : end;
  return { line: body.subarray(offset, stop).toString('utf8'), next: end === -1 ? body.length : end + 1 };
}

/**
 * Parses an envelope as Sentry's relay does: a header line, then items of a header line and a
 * payload of `length` bytes followed by a newline or the end; an item without `length` runs to
 * the next newline.
 */
export function parseEnvelope(body: Buffer): ParsedEnvelope {
  const first = readLine(body, 0);
  const header = parseJsonObject(first.line, 'envelope header');
  const items: EnvelopeItem[] = [];
  let offset = first.next;
  while (offset < body.length) {
    // Blank lines between items are tolerated, as by relay.
    if (body[offset] === NEWLINE) {
      offset += 1;
      continue;
    }
    const headerLine = readLine(body, offset);
    const itemHeader = parseJsonObject(headerLine.line, `item header ${items.length}`);
    const type = itemHeader['type'];
    if (typeof type !== 'string') throw new Error(`item ${items.length} has no type`);
    const length = itemHeader['length'];
    let payload: Buffer;
    if (length === undefined) {
      const end = body.indexOf(NEWLINE, headerLine.next);
      payload = body.subarray(headerLine.next, end === -1 ? body.length : end);
      offset = end === -1 ? body.length : end + 1;
    } else {
      if (typeof length !== 'number' || !Number.isInteger(length) || length < 0) throw new Error(`item ${items.length}: bad length`);
      const end = headerLine.next + length;
      if (end > body.length) throw new Error(`item ${items.length}: length ${length} runs past the end of the envelope`);
      payload = body.subarray(headerLine.next, end);
      if (end < body.length && body[end] !== NEWLINE) throw new Error(`item ${items.length}: no newline after its ${length} bytes`);
      offset = end + 1;
    }
    items.push({ header: itemHeader, type, payload: Buffer.from(payload) });
  }
  const eventItem = items.find((item) => item.type === 'event');
  return {
    header,
    items,
    event: eventItem === undefined ? null : parseJsonObject(eventItem.payload.toString('utf8'), 'event payload'),
    attachments: items.filter((item) => item.type === 'attachment'),
  };
}

function isEnvelope(request: RecordedRequest): boolean {
  const contentType = request.headers['content-type'] ?? '';
  return contentType.split(';')[0]?.trim().toLowerCase() === ENVELOPE_CONTENT_TYPE;
}

export async function startFeedbackServer(): Promise<FeedbackServer> {
  const recorded: RecordedRequest[] = [];
  let status = 200;
  let extraHeaders: Readonly<Record<string, string>> = {};
  let hang = false;

  const answer = (response: ServerResponse): void => {
    const body = status >= 200 && status <= 299 ? '{}' : JSON.stringify({ detail: `test server answers ${status}` });
    response.writeHead(status, { ...extraHeaders, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    response.end(body);
  };

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('error', () => response.destroy());
    request.on('end', () => {
      recorded.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks) });
      if (!hang) answer(response);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  let closing: Promise<void> | null = null;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => [...recorded],
    reports: () => recorded.filter((request) => !isEnvelope(request)).map((request) => parseJsonObject(request.body.toString('utf8'), 'report body')),
    envelopes: () => recorded.filter(isEnvelope).map((request) => parseEnvelope(request.body)),
    setStatus(code, headers = {}) {
      status = code;
      extraHeaders = headers;
    },
    setHang(value) {
      hang = value;
    },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive and hung connections would hold close() open; they are ended now.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}
