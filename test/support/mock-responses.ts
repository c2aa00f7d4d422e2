/**
 * A Responses API that answers every turn with "hi": enough for the real Codex CLI to run
 * `codex exec` offline. A POST to `/v1/responses` gets a short SSE stream (the response created,
 * one assistant message, the response completed with its token usage); anything else a 404.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MockResponses {
  /** `http://127.0.0.1:PORT/v1`, a model provider's `base_url`. */
  readonly baseUrl: string;
  /** Turns answered so far. */
  readonly turns: number;
  close(): Promise<void>;
}

export async function startMockResponses(): Promise<MockResponses> {
  let turns = 0;
  const server: Server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if (request.method !== 'POST' || !(request.url ?? '').endsWith('/responses')) {
        response.writeHead(404).end();
        return;
      }
      turns++;
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      const send = (type: string, fields: object): void => void response.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...fields })}\n\n`);
      const id = `resp_${turns}`;
      send('response.created', { response: { id } });
      send('response.output_item.done', { item: { type: 'message', role: 'assistant', id: `msg_${turns}`, content: [{ type: 'output_text', text: 'hi' }] } });
      send('response.completed', { response: { id, usage: { input_tokens: 10, input_tokens_details: null, output_tokens: 2, output_tokens_details: null, total_tokens: 12 } } });
      response.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    get turns() {
      return turns;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A `config.toml` for Codex that uses the mock as its model provider, without retries, plus `extra` (an `[otel]` table). */
export function codexConfig(mock: MockResponses, extra: string): string {
  return [
    'model = "mock-model"',
    'model_provider = "mock"',
    '',
    '[model_providers.mock]',
    'name = "mock"',
    `base_url = "${mock.baseUrl}"`,
    'wire_api = "responses"',
    'request_max_retries = 0',
    'stream_max_retries = 0',
    '',
    extra,
    '',
  ].join('\n');
}
