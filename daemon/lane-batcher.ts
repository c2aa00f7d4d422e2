/**
 * What a lane holds until export, in batches: the job the SDK's BatchSpanProcessor and
 * BatchLogRecordProcessor did, for the lanes' plain records. A batch goes when it is full, when
 * its oldest record has waited the scheduled delay, or on a flush; a timer runs only while
 * something waits (an idle daemon does not wake for it).
 *
 *   add() --> waiting --(full, delay, flush)--> export(batch) --> done
 *
 * As with the SDK's processors, one export is open at a time outside a flush: under a burst the
 * records wait here (the lane bounds what it admits, event-lanes.ts), and each turn of the event
 * loop serialises one batch of a lane, between the ingests that turn also runs, instead of
 * piling a burst's serialised batches onto the export queue at once (which would spill them to
 * disk past its bound). The exporter settles every batch (lane-books.ts times out one that
 * hangs); the batcher keeps track of the exports still open, for a flush to wait for them.
 */

export interface LaneBatcher<T> {
  add(item: T): void;
  /** Exports everything waiting, and resolves once every export begun so far is done. */
  forceFlush(): Promise<void>;
  /** As {@link forceFlush}; anything added afterwards is exported at once. */
  shutdown(): Promise<void>;
}

export interface LaneBatcherOptions<T> {
  readonly maxBatch: number;
  readonly delayMs: number;
  /** Called once per batch; `done` once it is settled (handed on, or failed). */
  readonly export: (batch: T[], done: () => void) => void;
}

export function createLaneBatcher<T>(options: LaneBatcherOptions<T>): LaneBatcher<T> {
  const { maxBatch, delayMs } = options;
  /** Records waiting; those before `head` are sent. */
  let waiting: T[] = [];
  let head = 0;
  let timer: NodeJS.Timeout | null = null;
  let open = 0;
  /** Called when the last open export settles. */
  let idle: (() => void)[] = [];
  let stopped = false;

  function settled(): void {
    open--;
    if (waiting.length - head >= maxBatch) sendOne();
    else if (waiting.length > head) arm();
    if (open > 0) return;
    const callbacks = idle;
    idle = [];
    for (const callback of callbacks) callback();
  }

  function send(batch: T[]): void {
    open++;
    let done = false;
    options.export(batch, () => {
      if (done) return;
      done = true;
      settled();
    });
  }

  function disarm(): void {
    if (timer === null) return;
    clearTimeout(timer);
    timer = null;
  }

  function arm(): void {
    if (timer !== null) return;
    timer = setTimeout(() => {
      timer = null;
      sendOne();
    }, delayMs);
    // A waiting batch never keeps the process alive: the daemon's shutdown flushes it.
    timer.unref();
  }

  /** Exports the oldest batch. */
  function sendOne(): void {
    disarm();
    const left = waiting.length - head;
    if (left <= 0) return;
    let batch: T[];
    if (head === 0 && left <= maxBatch) batch = waiting;
    else batch = waiting.slice(head, head + maxBatch);
    head += batch.length;
    if (head === waiting.length) {
      waiting = [];
      head = 0;
    } else if (head >= 4 * maxBatch && head * 2 > waiting.length) {
      // What was sent leaves the array now and then, not once per batch (a burst waits here).
      waiting = waiting.slice(head);
      head = 0;
    }
    send(batch);
  }

  function flush(): Promise<void> {
    disarm();
    while (waiting.length > head) sendOne();
    return open === 0 ? Promise.resolve() : new Promise((resolve) => idle.push(resolve));
  }

  return {
    add(item) {
      waiting.push(item);
      if (stopped) return void flush();
      if (open > 0) return;
      if (waiting.length - head >= maxBatch) sendOne();
      else arm();
    },
    forceFlush: flush,
    shutdown() {
      stopped = true;
      return flush();
    },
  };
}
