/**
 * An exporter as the config names it (`"none"`, `"file"`, `"statsig"`, `{ otlp-grpc = ... }`,
 * `{ otlp-http = ... }`), with its headers and TLS files read and checked.
 */
import { readFileSync } from 'node:fs';

import type { ExporterConfig, TlsConfig } from './config-schema.js';
import { fail, headersOf, isHttpUrl, isTable } from './config-values.js';

export type ReadExporter = ExporterConfig | { kind: 'otlp-grpc'; endpoint: string | undefined; headers: Record<string, string>; tls?: TlsConfig };

export const TLS_KEYS = ['ca-certificate', 'client-certificate', 'client-private-key'];

/** Reads an exporter's `tls` table: each file must be readable; a certificate needs its key and the other way round. */
export function readTls(file: string, value: unknown, path: string, endpoint: unknown): TlsConfig | undefined {
  if (value === undefined) return undefined;
  if (!isTable(value)) fail(file, path, `a table of ${TLS_KEYS.join(', ')}`);
  for (const name of Object.keys(value)) if (!TLS_KEYS.includes(name)) fail(file, `${path}.${name}`, `one of ${TLS_KEYS.join(', ')} (unknown key)`);
  if (typeof endpoint === 'string' && !endpoint.startsWith('https://')) fail(file, path, 'an https:// endpoint: TLS settings with an http:// endpoint would never be used');
  const read = (name: string): { path: string; pem: string } | undefined => {
    const where = value[name];
    if (where === undefined) return undefined;
    if (typeof where !== 'string' || where === '') fail(file, `${path}.${name}`, 'the path of a PEM file');
    try {
      return { path: where, pem: readFileSync(where, 'utf8') };
    } catch (error) {
      return fail(file, `${path}.${name}`, `a readable PEM file; ${where}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  };
  const ca = read('ca-certificate');
  const cert = read('client-certificate');
  const key = read('client-private-key');
  if ((cert === undefined) !== (key === undefined)) fail(file, path, 'client-certificate and client-private-key together: one without the other cannot authenticate');
  return {
    paths: { ...(ca === undefined ? {} : { ca: ca.path }), ...(cert === undefined ? {} : { cert: cert.path }), ...(key === undefined ? {} : { key: key.path }) },
    ...(ca === undefined ? {} : { ca: ca.pem }),
    ...(cert === undefined ? {} : { cert: cert.pem }),
    ...(key === undefined ? {} : { key: key.pem }),
  };
}

export function readExporter(file: string, key: string, value: unknown, fileDefault: ExporterConfig, env: NodeJS.ProcessEnv): ReadExporter {
  if (value === undefined) return fileDefault;
  if (value === 'none') return { kind: 'none' };
  if (value === 'file') return fileDefault;
  if (isTable(value)) {
    const names = Object.keys(value);
    const grpc = value['otlp-grpc'];
    if (names.length === 1 && isTable(grpc)) {
      for (const name of Object.keys(grpc)) {
        if (name !== 'endpoint' && name !== 'headers' && name !== 'tls') fail(file, `${key}.otlp-grpc.${name}`, 'one of "endpoint", "headers", "tls" (unknown key)');
      }
      const endpoint = grpc.endpoint;
      if (endpoint !== undefined && !isHttpUrl(endpoint)) {
        fail(file, `${key}.otlp-grpc.endpoint`, 'a URL starting with http:// or https://');
      }
      const tls = readTls(file, grpc.tls, `${key}.otlp-grpc.tls`, endpoint);
      return { kind: 'otlp-grpc', endpoint, headers: headersOf(file, grpc.headers, `${key}.otlp-grpc.headers`), ...(tls === undefined ? {} : { tls }) };
    }
    const http = value['otlp-http'];
    if (names.length === 1 && isTable(http)) {
      for (const name of Object.keys(http)) {
        if (name !== 'endpoint' && name !== 'headers' && name !== 'protocol' && name !== 'tls') fail(file, `${key}.otlp-http.${name}`, 'one of "endpoint", "headers", "protocol", "tls" (unknown key)');
      }
      const endpoint = http.endpoint;
      if (!isHttpUrl(endpoint)) fail(file, `${key}.otlp-http.endpoint`, 'a URL starting with http:// or https://');
      const protocol = http.protocol ?? 'binary';
      if (protocol !== 'binary' && protocol !== 'json') fail(file, `${key}.otlp-http.protocol`, '"binary" or "json"');
      const tls = readTls(file, http.tls, `${key}.otlp-http.tls`, endpoint);
      return { kind: 'otlp-http', endpoint, headers: headersOf(file, http.headers, `${key}.otlp-http.headers`), protocol, ...(tls === undefined ? {} : { tls }) };
    }
  }
  if (value === 'statsig') {
    // As in Codex: OTLP/HTTP JSON to Statsig, with the key from the environment; none is built in.
    const apiKey = env.STATSIG_SERVER_SDK_SECRET;
    if (apiKey === undefined || apiKey === '') fail(file, key, '"statsig" with an API key in STATSIG_SERVER_SDK_SECRET (none is built in)');
    return { kind: 'otlp-http', endpoint: STATSIG_ENDPOINT, headers: { 'statsig-api-key': apiKey }, protocol: 'json' };
  }
  return fail(file, key, '"none", "file", { otlp-grpc = { endpoint = "http://host:4317" } } or { otlp-http = { endpoint = "http://host:4318", protocol = "binary" } }');
}

/** Where `"statsig"` sends: Statsig's OTLP/HTTP JSON ingestion. */
export const STATSIG_ENDPOINT = 'https://api.statsig.com/otlp';
