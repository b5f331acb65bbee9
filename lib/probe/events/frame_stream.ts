/**
 * The training frames of one fold of the events probe as a
 * {@link TrainSource} in bounded memory. The frames of the fold's train
 * files are read from disk (frame_embeddings.ts) into a pool of at most
 * `bufferFrames` frames:
 *
 * - When they all fit, they are read once and stay (the resident case):
 *   every epoch is one permutation of all frames, exactly as fitLinear does
 *   with in-memory arrays, so small sets train as they always did.
 * - Otherwise every epoch reads the files in an order shuffled by a
 *   generator of (seed, epoch) alone, fills the pool with consecutive files
 *   up to `bufferFrames` (a larger file alone), shuffles the pool with the
 *   probe's generator and cuts full batches; the fewer than a batch left
 *   over stay in the pool for the next chunk, and the epoch's last chunk
 *   ends with a short batch (one row joins the previous batch, as in
 *   batches()).
 *
 * Memory: the pool (`batch - 1 + max(bufferFrames, largest file)` frames),
 * one batch (`batch + 1`) and one file being read, whatever the number of
 * files; {@link HeldFrames} counts it so that tests and the report can
 * show the bound. Standardisation statistics come from a streaming pass in
 * float64 (Chan et al.'s pairwise update of each file's mean and squared
 * deviations), or from the resident pool exactly as meanStd() computes them.
 *
 * @module
 */
import { mixSeed, Rng } from "../../rng.ts";
import { batches, columnMoments, invPopulationStd, meanStd } from "../_linear_probe_trainer.ts";
import type { TrainBatch, TrainSource } from "../linear.ts";
import { type FileFrames, type FrameTable, loadFrames } from "./frame_embeddings.ts";
import { frameTargets } from "./frame_targets.ts";
import type { EventSet } from "./strong_labels.ts";

/** Default `--buffer-mb`: about 350 000 frames (3.9 h of audio at 40 ms) of 192-d embeddings. */
export const DEFAULT_BUFFER_MB = 256;

/** A running count of the embedding frames the probe holds, and its peak. */
export class HeldFrames {
  held = 0;
  peak = 0;

  /** Counts `n` more frames as held. */
  hold(n: number): void {
    this.held += n;
    this.peak = Math.max(this.peak, this.held);
  }

  /** Counts `n` frames as freed. */
  release(n: number): void {
    this.held -= n;
  }
}

/** Frames for one role of a fold: the set, its frame index and the files (set indices). */
export interface FoldFiles {
  set: EventSet;
  table: FrameTable;
  files: number[];
  held: HeldFrames;
}

/**
 * Reads file `i` of the set with its multi-hot targets `[frames, classes]`,
 * counted in `held` until `release()` is called.
 */
export async function loadLabeledFile(
  f: Omit<FoldFiles, "files">,
  i: number,
): Promise<FileFrames & { y: Float32Array; release(): void }> {
  const ref = f.table.files[i]!;
  f.held.hold(ref.frames);
  const frames = await loadFrames(ref, f.table.dim);
  const y = frameTargets(f.set.files[i]!.events, frames.timesMs, f.set.classes);
  return { ...frames, y, release: () => f.held.release(ref.frames) };
}

/** Stream id of the per-epoch file order (any constant distinct from other mixSeed users). */
const FILE_ORDER = 0x5ed0;

/** The train frames of a fold, streamed from disk with at most `bufferFrames` in the pool. */
export class StreamedFrames implements TrainSource {
  readonly n: number;
  /** True when all train frames fit in the pool and are read only once. */
  readonly resident: boolean;
  readonly #f: FoldFiles;
  readonly #E: number;
  readonly #C: number;
  readonly #buffer: number;
  readonly #seed: number;
  #px?: Float32Array;
  #py?: Float32Array;
  #capacity = 0;
  #loaded = false;

  constructor(f: FoldFiles, opts: { bufferFrames: number; seed: number }) {
    this.#f = f;
    this.#E = f.table.dim;
    this.#C = f.set.classes.length;
    this.#buffer = Math.max(1, Math.floor(opts.bufferFrames));
    this.#seed = opts.seed;
    this.n = f.files.reduce((s, i) => s + f.table.files[i]!.frames, 0);
    this.resident = this.n <= this.#buffer;
  }

  /** Allocates the pool once, for `batchSize` (counted in `held`). */
  #pool(batchSize: number): void {
    if (this.#px) return;
    const largest = this.#f.files.reduce((m, i) => Math.max(m, this.#f.table.files[i]!.frames), 0);
    this.#capacity = this.resident
      ? this.n
      : Math.min(this.n, batchSize - 1 + Math.max(this.#buffer, largest));
    this.#px = new Float32Array(this.#capacity * this.#E);
    this.#py = new Float32Array(this.#capacity * this.#C);
    this.#f.held.hold(this.#capacity);
  }

  /** Copies file `i` into the pool at row `at`; returns its frame count. */
  async #fill(i: number, at: number): Promise<number> {
    const file = await loadLabeledFile(this.#f, i);
    try {
      this.#px!.set(file.data, at * this.#E);
      this.#py!.set(file.y, at * this.#C);
      return file.frames;
    } finally {
      file.release();
    }
  }

  /** Per-feature mean and 1 / population std of all train frames. */
  async meanStd(): Promise<{ mean: Float32Array; invStd: Float32Array }> {
    if (this.resident) {
      await this.#loadResident();
      return meanStd(this.#px!, this.n, this.#E);
    }
    const E = this.#E;
    const mean = new Float64Array(E), m2 = new Float64Array(E);
    let n = 0;
    for (const i of this.#f.files) {
      const file = await loadLabeledFile(this.#f, i);
      try {
        const k = file.frames;
        const { mean: fm, sq: fq } = columnMoments(file.data, k, E);
        // Chan et al.: merge this file's (mean, squared deviations) into the running ones.
        const total = n + k;
        for (let e = 0; e < E; e++) {
          const delta = fm[e]! - mean[e]!;
          mean[e]! += delta * k / total;
          m2[e]! += fq[e]! + delta * delta * n * k / total;
        }
        n = total;
      } finally {
        file.release();
      }
    }
    return { mean: Float32Array.from(mean), invStd: invPopulationStd(m2, n) };
  }

  async #loadResident(): Promise<void> {
    if (this.#loaded) return;
    this.#pool(1);
    let row = 0;
    for (const i of this.#f.files) row += await this.#fill(i, row);
    this.#loaded = true;
  }

  /** The batches of one epoch (see the module comment). */
  async *epoch(epoch: number, rng: Rng, batchSize: number): AsyncIterable<TrainBatch> {
    const [E, C] = [this.#E, this.#C];
    const rows = Math.min(this.n, batchSize + 1);
    const xb = new Float32Array(rows * E), yb = new Float32Array(rows * C);
    this.#f.held.hold(rows);
    try {
      const gather = (idx: Int32Array): TrainBatch => {
        const px = this.#px!, py = this.#py!;
        const B = idx.length;
        for (let i = 0; i < B; i++) {
          const r = idx[i]!;
          xb.set(px.subarray(r * E, (r + 1) * E), i * E);
          for (let c = 0; c < C; c++) yb[i * C + c] = py[r * C + c]!; // a few values: no subarray
        }
        return { x: xb.subarray(0, B * E), y: yb.subarray(0, B * C), rows: B }; // [B, E], [B, C]
      };
      if (this.resident) {
        await this.#loadResident();
        for (const idx of batches(rng.permutation(this.n), batchSize)) yield gather(idx);
        return;
      }
      this.#pool(batchSize);
      const order = Rng.fromState(mixSeed(this.#seed, FILE_ORDER, epoch)).shuffle([
        ...this.#f.files,
      ]);
      let held = 0; // rows in the pool: the carry, then this chunk's files
      let k = 0;
      while (k < order.length) {
        let chunk = 0;
        while (k < order.length) {
          const frames = this.#f.table.files[order[k]!]!.frames;
          if (chunk > 0 && chunk + frames > this.#buffer) break;
          const got = await this.#fill(order[k++]!, held);
          held += got;
          chunk += got;
        }
        const perm = rng.permutation(held);
        if (k === order.length) {
          for (const idx of batches(perm, batchSize)) yield gather(idx);
          break;
        }
        const full = Math.floor(held / batchSize) * batchSize;
        for (let s = 0; s < full; s += batchSize) yield gather(perm.subarray(s, s + batchSize));
        // The rows left over move to the front of the pool (through the free batch buffer).
        const rest = gather(perm.subarray(full));
        this.#px!.set(rest.x);
        this.#py!.set(rest.y);
        held = rest.rows;
      }
    } finally {
      this.#f.held.release(rows);
    }
  }

  /** Frees the pool (and its count). */
  dispose(): void {
    if (this.#px) this.#f.held.release(this.#capacity);
    this.#px = this.#py = undefined;
    this.#loaded = false;
  }
}
