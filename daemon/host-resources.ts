/**
 * One OpenTelemetry resource per host. What a connection sends is exported under the resource
 * its host gave in `initialize` (`service.name = codex_exec`, `service.version`, `os`, ...), or,
 * without one, under `clientInfo`'s name and version: two hosts never share a resource, so a
 * backend sees Codex's CLI, TUI, exec and app-server apart, as it would with in-process export.
 *
 *   daemon defaults (host.name, deployment.environment.name, OTEL_RESOURCE_ATTRIBUTES)
 *     <- clientInfo (service.name, service.version) <- the host's own resource
 *     <- codexd as the distribution (telemetry.distro.name, telemetry.distro.version)
 *
 * codexd names itself as the distribution, never as the service, except on what no host sent
 * (the daemon's own resource: `OTEL_SERVICE_NAME`, else `codexd`).
 */
import { hostname } from 'node:os';

import type { Attributes } from '@opentelemetry/api';
import { type Resource, resourceFromAttributes } from '@opentelemetry/resources';

import { type ClientInfo, PACKAGE_VERSION, type ResourceAttributes, SERVER_NAME } from '../protocol/index.js';

/**
 * Distinct resources the daemon holds. Each is small, but hosts choose them: beyond this, a new
 * one is exported under the daemon's own resource and counted (`overflow`).
 */
export const MAX_HOST_RESOURCES = 1024;

/**
 * A host's metrics are recorded on a meter of its own, named `codex` like the daemon's, whose
 * version carries the host's resource id from the SDK to the export: there its metrics are put
 * under the host's resource, as one request, and the version is removed.
 */
const HOST_METER_VERSION = 'codexd.resource.';

/** The version of the meter of the host with resource `id` (not the daemon's own, 0). */
export function hostMeterVersion(id: number): string {
  return `${HOST_METER_VERSION}${id}`;
}

/** The resource id a meter's version names, or undefined for the daemon's own meter. */
export function resourceIdOfMeter(version: string | undefined): number | undefined {
  return version?.startsWith(HOST_METER_VERSION) === true ? Number(version.slice(HOST_METER_VERSION.length)) : undefined;
}

export interface HostResource {
  /** Unique in this daemon for its life; 0 is the daemon's own. What journal lines and metric points carry. */
  readonly id: number;
  /** As exported. */
  readonly attributes: Readonly<Attributes>;
  /** One object per distinct resource: the OTLP serialisers group records by its identity. */
  readonly resource: Resource;
  readonly serviceName: string;
}

export interface HostResources {
  /** The daemon's own resource, for what no host sent (feedback outcomes). */
  readonly own: HostResource;
  /** The resource of a host: its own attributes over `clientInfo` over the daemon's defaults. */
  forHost(clientInfo: ClientInfo | null, resource?: ResourceAttributes): HostResource;
  /** A resource with exactly these attributes (one an earlier daemon journaled). */
  exact(attributes: Attributes): HostResource;
  byId(id: number): HostResource | undefined;
  counts(): { readonly held: number; readonly overflow: number };
}

export interface HostResourceOptions {
  /** `[otel] environment`. */
  readonly environment: string;
  /** The daemon's environment: `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` are read from it. */
  readonly env: NodeJS.ProcessEnv;
  readonly onError: (message: string) => void;
}

/**
 * Parses `OTEL_RESOURCE_ATTRIBUTES` (`key=value,key2=value2`, values percent-encoded, as the
 * OpenTelemetry specification has it). A malformed list is ignored whole, as the specification
 * asks, and the problem returned.
 */
export function parseResourceAttributes(text: string | undefined): { attributes: Record<string, string>; problem: string | null } {
  const attributes: Record<string, string> = {};
  if (text === undefined || text.trim() === '') return { attributes, problem: null };
  for (const pair of text.split(',')) {
    if (pair.trim() === '') continue;
    const at = pair.indexOf('=');
    const key = at < 0 ? '' : pair.slice(0, at).trim();
    if (key === '') return { attributes: {}, problem: `OTEL_RESOURCE_ATTRIBUTES: "${pair.trim().slice(0, 64)}" is not key=value; the variable is ignored` };
    try {
      attributes[key] = decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      return { attributes: {}, problem: `OTEL_RESOURCE_ATTRIBUTES: the value of ${key} is not valid percent-encoding; the variable is ignored` };
    }
  }
  return { attributes, problem: null };
}

/** The same attributes in any order give the same key. */
function keyOf(attributes: Attributes): string {
  return JSON.stringify(Object.keys(attributes).sort().map((key) => [key, attributes[key]]));
}

export function createHostResources(options: HostResourceOptions): HostResources {
  const parsed = parseResourceAttributes(options.env.OTEL_RESOURCE_ATTRIBUTES);
  if (parsed.problem !== null) options.onError(parsed.problem);
  const defaults: Attributes = { 'host.name': hostname(), 'deployment.environment.name': options.environment, ...parsed.attributes };
  const distro: Attributes = { 'telemetry.distro.name': SERVER_NAME, 'telemetry.distro.version': PACKAGE_VERSION };
  const byKey = new Map<string, HostResource>();
  const byId: HostResource[] = [];
  let overflow = 0;

  function make(attributes: Attributes): HostResource {
    const made: HostResource = { id: byId.length, attributes, resource: resourceFromAttributes(attributes), serviceName: String(attributes['service.name'] ?? 'unknown_service') };
    byId.push(made);
    byKey.set(keyOf(attributes), made);
    return made;
  }

  const envServiceName = options.env.OTEL_SERVICE_NAME?.trim();
  const own = make({
    'service.version': PACKAGE_VERSION,
    ...defaults,
    'service.name': envServiceName !== undefined && envServiceName !== '' ? envServiceName : (parsed.attributes['service.name'] ?? SERVER_NAME),
    ...distro,
  });

  function exact(attributes: Attributes): HostResource {
    const known = byKey.get(keyOf(attributes));
    if (known !== undefined) return known;
    if (byId.length >= MAX_HOST_RESOURCES) {
      overflow++;
      return own;
    }
    return make(attributes);
  }

  return {
    own,
    forHost(clientInfo, resource) {
      const fromClient: Attributes = clientInfo === null ? {} : { 'service.name': clientInfo.name, 'service.version': clientInfo.version };
      return exact({ ...defaults, ...fromClient, ...resource, ...distro });
    },
    exact,
    byId: (id) => byId[id],
    counts: () => ({ held: byId.length, overflow }),
  };
}
