import { describe, expect, it } from 'vitest';

import { setUpText } from '../cli/setup-codex.js';

const TOKEN = 'cd'.repeat(32);

describe('codexd setup codex: where Codex is pointed', () => {
  it('turns on the OTLP/gRPC receiver on its usual port and points Codex there, with the token', () => {
    const { text, receiver } = setUpText('[otel]\nexporter = "file"\n', TOKEN);
    expect(receiver).toBe('OTLP/gRPC http://127.0.0.1:4317');
    expect(text).toContain(`exporter = { otlp-grpc = { endpoint = "http://127.0.0.1:4317", headers = { authorization = "Bearer ${TOKEN}" } } }`);
    expect(text).toMatch(/\[codexd\.otlp_receiver\]\ngrpc = "127\.0\.0\.1:4317"\n/);
  });

  it('leaves port 4317 to the local collector Codex exported to, and takes the second port', () => {
    const collector = '{ otlp-grpc = { endpoint = "http://localhost:4317" } }';
    const { text, receiver } = setUpText(`[otel]\nexporter = ${collector}\ntrace_exporter = ${collector}\n`, TOKEN);
    expect(receiver).toBe('OTLP/gRPC http://127.0.0.1:14317');
    expect(text).toContain('trace_exporter = { otlp-grpc = { endpoint = "http://127.0.0.1:14317"');
    expect(text).toContain(`[codexd.downstream]\nexporter = ${collector}\ntrace_exporter = ${collector}\n`);
    expect(text).toMatch(/\[codexd\.otlp_receiver\]\ngrpc = "127\.0\.0\.1:14317"\n/);
  });

  it('keeps a receiver the file names: only HTTP means Codex exports over OTLP/HTTP, by signal path', () => {
    const { text, receiver } = setUpText('[codexd.otlp_receiver]\nhttp = "127.0.0.1:5318"\n', TOKEN);
    expect(receiver).toBe('OTLP/HTTP http://127.0.0.1:5318');
    expect(text).toContain('exporter = { otlp-http = { endpoint = "http://127.0.0.1:5318/v1/logs", protocol = "binary"');
    expect(text).toContain('trace_exporter = { otlp-http = { endpoint = "http://127.0.0.1:5318/v1/traces"');
    expect(text).not.toContain('grpc =');
    expect(setUpText('[codexd.otlp_receiver]\nhttp = "127.0.0.1:5318"\ngrpc = "127.0.0.1:5317"\n', TOKEN).receiver).toBe('OTLP/gRPC http://127.0.0.1:5317');
  });
});
