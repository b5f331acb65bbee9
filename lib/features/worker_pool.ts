/**
 * A pool of module workers that run one job at a time each, and an ordered
 * map over it that keeps a bounded number of jobs in flight: the one
 * primitive behind parallel featurize, the parallel cache build, views
 * prepared ahead for pretrain and the read-ahead of embed. A worker file
 * answers with {@link serveJobs}.
 *
 * @module
 */

type Reply<R> = { id: number; result: R } | { id: number; internal: string };

/** What a worker's handler returns: the result and the buffers to transfer with it. */
export type Served<R> = { result: R; transfer?: Transferable[] };

/**
 * Worker side: answers every job with `handler`. The first message is given
 * to `init` when the pool was made with an `init` value. An exception in the
 * handler is sent back as an internal error and fails that job.
 *
 * @example
 * ```ts
 * serveJobs<string, number>(async (path) => ({ result: (await Deno.readFile(path)).length }));
 * ```
 */
export function serveJobs<J, R>(
  handler: (job: J) => Served<R> | Promise<Served<R>>,
  init?: (value: unknown) => void,
): void {
  const scope = globalThis as unknown as {
    onmessage: ((e: MessageEvent) => void) | null;
    postMessage(msg: unknown, transfer?: Transferable[]): void;
  };
  let initialised = init === undefined;
  scope.onmessage = async (e: MessageEvent) => {
    if (!initialised) {
      initialised = true;
      init!(e.data);
      return;
    }
    const { id, job } = e.data as { id: number; job: J };
    try {
      const { result, transfer } = await handler(job);
      scope.postMessage({ id, result }, transfer ?? []);
    } catch (err) {
      scope.postMessage({
        id,
        internal: err instanceof Error ? (err.stack ?? err.message) : String(err),
      });
    }
  };
}

/**
 * `size` workers of the module at `url`; {@link run} gives a job to the next
 * idle one. A crashed worker fails its job and every later one.
 *
 * @example
 * ```ts
 * const pool = new WorkerPool<string, number>(new URL("./w.ts", import.meta.url), 2);
 * try { console.log(await pool.run("a.wav")); } finally { pool.close(); }
 * ```
 */
export class WorkerPool<J, R> {
  readonly size: number;
  #workers: Worker[];
  #idle: Worker[];
  #queue: { id: number; job: J; transfer: Transferable[] }[] = [];
  #pending = new Map<number, { resolve: (r: R) => void; reject: (e: Error) => void }>();
  #nextId = 0;
  #broken: Error | null = null;

  /** `init` (when given) is posted to every worker before any job. */
  constructor(url: URL, size: number, opts: { init?: unknown } = {}) {
    this.size = Math.max(1, size);
    this.#workers = Array.from({ length: this.size }, () => {
      const w = new Worker(url, { type: "module" });
      if (opts.init !== undefined) w.postMessage(opts.init);
      w.onmessage = (e: MessageEvent<Reply<R>>) => this.#settle(w, e.data);
      w.onerror = (e) => {
        e.preventDefault();
        this.#fail(new Error(`Worker crashed: ${e.message}`));
      };
      return w;
    });
    this.#idle = [...this.#workers];
  }

  /** Runs `job` on the next idle worker; `transfer` lists buffers to move, not copy. */
  run(job: J, transfer: Transferable[] = []): Promise<R> {
    if (this.#broken) return Promise.reject(this.#broken);
    const id = this.#nextId++;
    const done = new Promise<R>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#queue.push({ id, job, transfer });
    this.#pump();
    return done;
  }

  /** Stops every worker; jobs still running are dropped. */
  close(): void {
    for (const w of this.#workers) w.terminate();
    this.#fail(new Error("Worker pool closed"));
  }

  #pump(): void {
    while (this.#idle.length && this.#queue.length) {
      const w = this.#idle.pop()!, { id, job, transfer } = this.#queue.shift()!;
      w.postMessage({ id, job }, transfer);
    }
  }

  #settle(w: Worker, reply: Reply<R>): void {
    const p = this.#pending.get(reply.id);
    this.#pending.delete(reply.id);
    this.#idle.push(w);
    if ("internal" in reply) p?.reject(new Error(`Worker failed: ${reply.internal}`));
    else p?.resolve(reply.result);
    this.#pump();
  }

  #fail(err: Error): void {
    this.#broken ??= err;
    for (const p of this.#pending.values()) p.reject(this.#broken);
    this.#pending.clear();
    this.#queue = [];
  }
}

/**
 * `fn` over `items` on `pool`, yielded in input order, with at most
 * `ahead` jobs started past the one being awaited (bounded memory).
 *
 * @example
 * ```ts
 * for await (const n of orderedMap(pool, paths, { ahead: 8 })) console.log(n);
 * ```
 */
export async function* orderedMap<J, R>(
  pool: WorkerPool<J, R>,
  items: Iterable<J>,
  opts: {
    ahead?: number;
    transfer?: (job: J) => Transferable[];
    /** Turns a failed job into a result (default: the failure is thrown, in order). */
    onError?: (err: Error, job: J) => R;
  } = {},
): AsyncGenerator<R> {
  const ahead = Math.max(1, opts.ahead ?? 4 * pool.size);
  const it = items[Symbol.iterator]();
  const inFlight: Promise<R>[] = [];
  const fill = () => {
    while (inFlight.length <= ahead) {
      const n = it.next();
      if (n.done) return;
      const job = n.value, onError = opts.onError;
      const p = pool.run(job, opts.transfer?.(job));
      const q = onError ? p.catch((err) => onError(err as Error, job)) : p;
      q.catch(() => {}); // awaited in order below; a failure must not go unhandled meanwhile
      inFlight.push(q);
    }
  };
  fill();
  while (inFlight.length) {
    const r = await inFlight.shift()!;
    fill();
    yield r;
  }
}
