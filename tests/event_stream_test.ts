import assert from "node:assert/strict";
import { join } from "node:path";
import { jsonlRecord, writeNpyResult } from "../lib/embed/format.ts";
import { Rng } from "../lib/rng.ts";
import { meanStd } from "../lib/probe/_linear_probe_trainer.ts";
import {
  fitLinear,
  fitStreamed,
  type LinearProbe,
  predictProbe,
  probeMetric,
  type TrainBatch,
} from "../lib/probe/linear.ts";
import { protocolConfig } from "../lib/probe/protocols.ts";
import { type FrameTable, readFrameEmbeddings } from "../lib/probe/events/frame_embeddings.ts";
import { HeldFrames, loadLabeledFile, StreamedFrames } from "../lib/probe/events/frame_stream.ts";
import { type EventSet, eventsTsv, parseStrongLabels } from "../lib/probe/events/strong_labels.ts";
import { relErr, ROOT, runCli } from "./_helpers.ts";

/**
 * A strong-label set of `n` files without audio, and its frames in the
 * `embed --frames` npy layout (`dir/emb/audio/NNN.npy`): file i has
 * `frames(i)` frames 40 ms apart, an event of class a (even i) or b (odd i)
 * from 0.2 s to half its length, value 0 of each frame its id (1000 i +
 * frame) and the rest noise plus the target. With `link`, files after the
 * first are hard links to it (same frames, different events; little disk).
 */
async function writeFrameSet(
  dir: string,
  n: number,
  opts: { dim: number; frames: (i: number) => number; seed?: number; link?: boolean },
): Promise<{ tsv: string; emb: string; set: EventSet; frames: number[] }> {
  const rng = new Rng(opts.seed ?? 1);
  const rows: { path: string; events: { label: string; onset: number; offset: number }[] }[] = [];
  const frames: number[] = [];
  for (let i = 0; i < n; i++) {
    const T = opts.frames(i), D = opts.dim;
    const path = `audio/${String(i).padStart(4, "0")}.wav`;
    const event = { label: i % 2 ? "b" : "a", onset: 0.2, offset: Math.round(T * 20) / 1000 };
    rows.push({ path, events: [event] });
    frames.push(T);
    if (opts.link && i > 0) {
      for (const ext of [".npy", ".times.npy"]) {
        const first = join(dir, "emb", `audio/0000${ext}`);
        await Deno.link(first, join(dir, "emb", path.replace(/\.wav$/, ext)));
      }
      continue;
    }
    const timesMs = Float64Array.from({ length: T }, (_, k) => 40 * k + 15);
    const data = new Float32Array(T * D);
    for (let k = 0; k < T; k++) {
      const on = timesMs[k]! / 1000 >= event.onset && timesMs[k]! / 1000 < event.offset;
      data[k * D] = 1000 * i + k;
      for (let d = 1; d < D; d++) data[k * D + d] = rng.normal() + (on && d % 2 === i % 2 ? 2 : 0);
    }
    await writeNpyResult(join(dir, "emb"), {
      file: { path, rel: path },
      frames: { data, frames: T, dim: D, timesMs },
      seconds: T * 0.04,
    });
  }
  const tsv = join(dir, "events.tsv");
  await Deno.writeTextFile(tsv, eventsTsv(rows));
  const set = parseStrongLabels(await Deno.readTextFile(tsv), tsv);
  return { tsv, emb: join(dir, "emb"), set, frames };
}

/** The ids (value 0) of every row of every batch of one epoch, and the batch sizes. */
async function epochIds(src: StreamedFrames, epoch: number, rng: Rng, batch: number, dim: number) {
  const ids: number[] = [], sizes: number[] = [];
  for await (const b of src.epoch(epoch, rng, batch) as AsyncIterable<TrainBatch>) {
    for (let r = 0; r < b.rows; r++) ids.push(b.x[r * dim]!);
    sizes.push(b.rows);
  }
  return { ids, sizes };
}

async function withSet<T>(
  n: number,
  opts: { dim: number; frames: (i: number) => number },
  fn: (s: { set: EventSet; table: FrameTable; frames: number[]; dir: string }) => Promise<T>,
): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "event_stream_" });
  try {
    const { set, emb, frames } = await writeFrameSet(dir, n, opts);
    const table = await readFrameEmbeddings(emb, set.files);
    return await fn({ set, table, frames, dir });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const sizes = (i: number) => 30 + (i * 7) % 41; // 30..70 frames

Deno.test("streamed epochs visit every train frame once, in full batches but the last, in an order set by seed and epoch", async () => {
  await withSet(12, { dim: 3, frames: sizes }, async ({ set, table, frames }) => {
    const files = [...set.files.keys()];
    const all = files.flatMap((i) => Array.from({ length: frames[i]! }, (_, k) => 1000 * i + k));
    const src = () =>
      new StreamedFrames({ set, table, files, held: new HeldFrames() }, {
        bufferFrames: 100,
        seed: 7,
      });
    const a = src();
    assert.equal(a.resident, false);
    assert.equal(a.n, all.length);
    const e1 = await epochIds(a, 1, new Rng(3), 16, 3);
    assert.deepEqual([...e1.ids].sort((x, y) => x - y), all, "each frame exactly once");
    e1.sizes.slice(0, -1).forEach((s) => assert.equal(s, 16));
    assert.ok(e1.sizes.at(-1)! >= 2 && e1.sizes.at(-1)! <= 17, `last batch ${e1.sizes.at(-1)}`);
    // Same seed, epoch and generator: the same batches, from a fresh source too.
    assert.deepEqual((await epochIds(src(), 1, new Rng(3), 16, 3)).ids, e1.ids);
    const e2 = await epochIds(a, 2, new Rng(3), 16, 3);
    assert.notDeepEqual(e2.ids, e1.ids, "another epoch reads the files in another order");
    assert.deepEqual([...e2.ids].sort((x, y) => x - y), all);
    // A batch mixes files: the buffer of 100 frames holds two or three of them.
    const filesIn = new Set(e1.ids.slice(0, 16).map((id) => Math.floor(id / 1000)));
    assert.ok(filesIn.size >= 2, `first batch from ${filesIn.size} file(s)`);
  });
});

Deno.test("the frames held at once stay within pool, batch and one file, whatever the number of files", async () => {
  const frames = (i: number) => 40 + (i % 3) * 10; // 40, 50, 60 frames: the largest is 60
  const bound = (32 - 1 + Math.max(90, 60)) + (32 + 1) + 60; // pool (carry + buffer), batch, one file
  for (const n of [10, 40]) {
    await withSet(n, { dim: 4, frames }, async ({ set, table }) => {
      const held = new HeldFrames();
      const files = [...set.files.keys()];
      const src = new StreamedFrames({ set, table, files, held }, { bufferFrames: 90, seed: 0 });
      await src.meanStd();
      assert.ok(held.peak <= 60, `statistics pass: ${held.peak} frames, one file at most`);
      for (const epoch of [1, 2]) await epochIds(src, epoch, new Rng(0), 32, 4);
      assert.ok(held.peak <= bound, `${n} files: peak ${held.peak} > ${bound}`);
      assert.ok(held.peak < 10 * 40, `${n} files: peak ${held.peak}, below 10 files' frames`);
      src.dispose();
      assert.equal(held.held, 0, "everything released");
    });
  }
});

Deno.test("train frames that fit in the buffer give fitLinear's result exactly; streamed statistics agree", async () => {
  await withSet(10, { dim: 5, frames: sizes }, async ({ set, table }) => {
    const C = set.classes.length, E = table.dim;
    const [train, valid] = [[0, 1, 2, 3, 4, 5, 6, 7], [8, 9]];
    // The in-memory arrays the probe gathered before it streamed.
    const gather = async (idx: number[]) => {
      const held = new HeldFrames();
      const parts = [];
      for (const i of idx) parts.push(await loadLabeledFile({ set, table, held }, i));
      const n = parts.reduce((s, p) => s + p.frames, 0);
      const x = new Float32Array(n * E), y = new Float32Array(n * C);
      let row = 0;
      for (const p of parts) {
        x.set(p.data, row * E);
        y.set(p.y, row * C);
        row += p.frames;
      }
      return { x, y, n };
    };
    const [tr, va] = [await gather(train), await gather(valid)];
    const validMetric = async (p: LinearProbe) =>
      probeMetric(await predictProbe(p, va.x, va.n), va.y, C, true);
    for (const protocol of ["reference", "evar"] as const) {
      const cfg = protocolConfig(protocol, { epochs: 4, seed: 2 });
      const ref = await fitLinear(
        { train: tr, valid: va, dim: E, classes: C, multiLabel: true },
        cfg,
      );
      const src = new StreamedFrames({ set, table, files: train, held: new HeldFrames() }, {
        bufferFrames: tr.n,
        seed: 2,
      });
      assert.equal(src.resident, true);
      const fit = await fitStreamed(
        { train: src, validMetric, dim: E, classes: C, multiLabel: true },
        cfg,
      );
      assert.deepEqual(fit.probe.weight, ref.probe.weight, protocol);
      assert.deepEqual(fit.history, ref.history, protocol);
      assert.ok(fit.history.some((h, k) => k > 0 && h.loss !== fit.history[0]!.loss), "it trains");
    }
    // Statistics over all train frames, file by file (Chan's update) against the two-pass ones.
    const exact = meanStd(tr.x, tr.n, E);
    const src = new StreamedFrames({ set, table, files: train, held: new HeldFrames() }, {
      bufferFrames: 50,
      seed: 0,
    });
    assert.equal(src.resident, false);
    const s = await src.meanStd();
    assert.ok(relErr(s.mean, exact.mean) < 1e-6, `mean ${relErr(s.mean, exact.mean)}`);
    assert.ok(relErr(s.invStd, exact.invStd) < 1e-6, `invStd ${relErr(s.invStd, exact.invStd)}`);
  });
});

/** Runs `atst <args>` in a child process; returns its peak resident memory (kB). */
async function peakRssKb(args: string[]): Promise<number> {
  const cmd = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "tests/_peak_rss.ts"), ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
  const out = await cmd.output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const kb = Number(/VmHWM (\d+)/.exec(stdout)?.[1]);
  assert.ok(kb > 0, `VmHWM in ${stdout.slice(-200)}`);
  return kb;
}

Deno.test("the events probe's memory does not grow with the number of files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "event_stream_rss_" });
  try {
    const run = async (n: number) => {
      const sub = join(dir, String(n));
      const { tsv, emb } = await writeFrameSet(sub, n, { dim: 256, frames: () => 500, link: true });
      const report = join(sub, "r.json");
      const args = ["probe", tsv, "--embeddings", emb, "--epochs", "2", "--buffer-mb", "1"];
      const kb = await peakRssKb([...args, "--report", report, "--quiet"]);
      return { kb, rep: JSON.parse(await Deno.readTextFile(report)) };
    };
    // 120 files of 500 frames x 256 values: 61 MB of frames; 480 files: 246 MB. (Below about
    // 64 MB, garbage the collector has not yet freed would hide the difference.)
    const [small, large] = [await run(120), await run(480)];
    for (const { rep } of [small, large]) {
      assert.ok(rep.folds.every((f: { streamed: boolean }) => f.streamed), "train frames streamed");
      assert.equal(rep.memory.bufferFrames, Math.floor(2 ** 20 / (4 * (256 + 2))));
    }
    // Structurally: the same frames held at once (pool + batch + one file), below one fold's train frames.
    assert.equal(large.rep.memory.peakFrames, small.rep.memory.peakFrames);
    const T = small.rep.memory.bufferFrames;
    assert.equal(small.rep.memory.peakFrames, (1024 - 1 + Math.max(T, 500)) + 1025 + 500);
    assert.ok(small.rep.memory.peakFrames < small.rep.folds[0].frames.train);
    // Coarsely, the whole process: holding all frames once would add 184 MB (the probe that
    // gathered them grew by 359 MB here); streamed, a few MB.
    const growMB = (large.kb - small.kb) / 1024;
    console.log(`peak RSS: ${small.kb >> 10} MB (120 files), ${large.kb >> 10} MB (480 files)`);
    assert.ok(growMB < 60, `peak RSS grew by ${growMB.toFixed(1)} MB from 120 to 480 files`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("jsonl frames give the npy folder's predictions and their temporary copy is removed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "event_stream_jsonl_" });
  try {
    const { tsv, emb, set } = await writeFrameSet(dir, 20, { dim: 6, frames: sizes });
    const table = await readFrameEmbeddings(emb, set.files);
    const lines = [];
    for (const [i, f] of set.files.entries()) {
      const fr = await loadLabeledFile({ set, table, held: new HeldFrames() }, i);
      lines.push(jsonlRecord({
        file: { path: f.path, rel: f.path },
        frames: { data: fr.data, frames: fr.frames, dim: 6, timesMs: fr.timesMs },
        seconds: 1,
      }));
    }
    const jsonl = join(dir, "frames.jsonl");
    await Deno.writeTextFile(jsonl, lines.join("\n") + "\n");
    const tmp = join(dir, "tmp");
    await Deno.mkdir(tmp);
    const pred = (src: string) => join(dir, `${src}.tsv`);
    for (const [src, path] of [["npy", emb], ["jsonl", jsonl]]) {
      const r = await runCli([
        "probe",
        tsv,
        "--embeddings",
        path!,
        "--epochs",
        "3",
        "--predictions",
        pred(src!),
        "--report",
        join(dir, `${src}.json`),
        "--quiet",
      ], { env: { TMPDIR: tmp } });
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal(await Deno.readTextFile(pred("jsonl")), await Deno.readTextFile(pred("npy")));
    const left = [...Deno.readDirSync(tmp)].filter((e) => e.name.startsWith("atst-frames-"));
    assert.deepEqual(left, [], "temporary frames removed");
    const bad = await runCli(["probe", tsv, "--embeddings", emb, "--buffer-mb", "0"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--buffer-mb must be at least/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
