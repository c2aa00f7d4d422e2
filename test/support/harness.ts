/**
 * One set-up for the end-to-end tests: a temp home, real OTLP/gRPC receivers, the daemon as a
 * child process and raw socket peers. `useHarness()` in a `describe` registers the teardown
 * (after each test: peers closed, the daemon and any daemon a client spawned for the home
 * stopped, receivers closed, the home removed), so a test only says what it starts.
 */
import { afterEach } from 'vitest';

import { createTestHome, type DaemonProcess, grpcConfig, isAlive, spawnedDaemonPids, startDaemonProcess, type TestHome } from './daemon.js';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver.js';
import { openRawPeer, type RawPeer } from './raw-client.js';

export interface StartOptions {
  /** The receiver the daemon exports to; a new one when left out. */
  readonly receiver?: OtlpReceiver;
  /** `export_interval_ms`; 200 when left out. */
  readonly intervalMs?: number;
  /** Extra lines for `[otel]` and `[codexd]`, as grpcConfig takes them. */
  readonly otel?: string;
  readonly codexd?: string;
  /** Written after the config: further tables. */
  readonly append?: string;
  /** Arguments after `run`. */
  readonly args?: readonly string[];
}

export interface Started {
  readonly home: TestHome;
  readonly receiver: OtlpReceiver;
  readonly daemon: DaemonProcess;
}

export interface Harness {
  /** The test's home, made on first use. */
  home(): TestHome;
  /** A new receiver, closed after the test. */
  receiver(): Promise<OtlpReceiver>;
  /** The test's home, its config exporting to a new receiver over OTLP/gRPC (no daemon yet). */
  homeWithReceiver(): Promise<{ home: TestHome; receiver: OtlpReceiver }>;
  /** A home whose config exports to a receiver over OTLP/gRPC, and the daemon on it. */
  start(options?: StartOptions): Promise<Started>;
  /** The daemon on the test's home as its config stands (stopped after the test). */
  daemon(args?: readonly string[]): Promise<DaemonProcess>;
  /** The daemon started last, if any. */
  readonly running: DaemonProcess | undefined;
  /** A raw peer on the home's socket, initialized as `name` unless `name` is null. */
  peer(name?: string | null): Promise<RawPeer>;
  /** Stops the test's daemon now (a test that restarts it). */
  stopDaemon(): Promise<void>;
}

export function useHarness(): Harness {
  let home: TestHome | undefined;
  let daemon: DaemonProcess | undefined;
  const daemons: DaemonProcess[] = [];
  const receivers: OtlpReceiver[] = [];
  const peers: RawPeer[] = [];

  afterEach(async () => {
    for (const peer of peers.splice(0)) peer.destroy();
    for (const started of daemons.splice(0)) await started.stop();
    if (home !== undefined) {
      for (const pid of spawnedDaemonPids(home)) {
        process.kill(pid, 'SIGTERM');
        const deadline = Date.now() + 10_000;
        while (isAlive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    await Promise.all(receivers.splice(0).map((receiver) => receiver.close()));
    home?.remove();
    home = daemon = undefined;
  });

  const harness: Harness = {
    home: () => (home ??= createTestHome()),
    async receiver() {
      const receiver = await startOtlpReceiver();
      receivers.push(receiver);
      return receiver;
    },
    async homeWithReceiver() {
      const receiver = await harness.receiver();
      harness.home().writeConfig(grpcConfig(receiver.endpoint));
      return { home: harness.home(), receiver };
    },
    async start(options = {}) {
      const receiver = options.receiver ?? (await harness.receiver());
      const config = grpcConfig(receiver.endpoint, options.intervalMs ?? 200, { otel: options.otel, codexd: options.codexd });
      harness.home().writeConfig(options.append === undefined ? config : `${config}\n${options.append}\n`);
      return { home: harness.home(), receiver, daemon: await harness.daemon(options.args) };
    },
    async daemon(args = []) {
      daemon = await startDaemonProcess(harness.home(), args);
      daemons.push(daemon);
      return daemon;
    },
    get running() {
      return daemon;
    },
    async peer(name = 'raw-test') {
      const peer = await openRawPeer(harness.home().socketPath);
      peers.push(peer);
      if (name !== null) await peer.initialize(name);
      return peer;
    },
    async stopDaemon() {
      await daemon?.stop();
      daemon = undefined;
    },
  };
  return harness;
}
