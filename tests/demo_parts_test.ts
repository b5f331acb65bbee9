/**
 * Unit tests of the demo's parts: data selection, PCA (against sklearn),
 * PNG writing and the two plots.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { assertAtMost, maxAbsDiff, readFixtureNpy } from "./_helpers.ts";
import { initialEncoder } from "../lib/demo/random_init.ts";
import { encoderConfig } from "../lib/model/config.ts";
import { TeacherStudent } from "../lib/train/teacher_student.ts";
import { pca } from "../lib/demo/pca.ts";
import { meanStdPool } from "../lib/demo/baseline.ts";
import { MARKER, prepareOut } from "../lib/demo/_run.ts";
import { lossFigure, smooth } from "../lib/demo/figures.ts";
import { decodePng, encodePng } from "../lib/demo/png.ts";
import { Raster, textWidth } from "../lib/demo/raster.ts";
import { formatTick, linePlot, niceTicks, PALETTE, scatterPlot } from "../lib/demo/plot.ts";
import {
  assignFolds,
  type DemoClip,
  findDemoData,
  labeledCsv,
  pickBalanced,
  wavSeconds,
} from "../lib/demo/data.ts";
import { parseLabeledCsv } from "../lib/probe/labeled_set.ts";
import { activityFigure, activityFigureSize } from "../lib/demo/activity.ts";
import { intervalsOf, readEventProbe } from "../lib/demo/events_step.ts";
import { levelCurve, mixClips, trimSilence } from "../lib/demo/mixtures.ts";
import { pcm16Wav } from "../lib/io/wav.ts";
import { decodeBytes } from "../lib/audio/decode.ts";
import {
  type DemoReport,
  type EventMethodResult,
  formatEventsTable,
  formatGain,
  formatTable,
  type MethodResult,
  parseReport,
  summarize,
} from "../lib/demo/report.ts";
import { readProbeAccuracy } from "../lib/demo/steps.ts";

function rowsOf(name: string): Float64Array[] {
  const a = readFixtureNpy("demo", `pca_${name}_x.npy`);
  const [n, d] = a.shape as [number, number];
  return Array.from(
    { length: n },
    (_, i) => Float64Array.from(a.data.subarray(i * d, (i + 1) * d)),
  );
}

Deno.test("pca() matches sklearn's PCA up to the sign of each component", async (t) => {
  for (const name of ["tall", "wide"]) {
    await t.step(`on the ${name} fixture`, () => {
      const rows = rowsOf(name);
      const ref = readFixtureNpy("demo", `pca_${name}_components.npy`);
      const refProj = readFixtureNpy("demo", `pca_${name}_projected.npy`);
      const refRatio = readFixtureNpy("demo", `pca_${name}_ratio.npy`);
      const d = rows[0]!.length, n = rows.length;
      const got = pca(rows, { k: 2 });
      for (let c = 0; c < 2; c++) {
        const r = ref.data.subarray(c * d, (c + 1) * d);
        let s = 0;
        for (let j = 0; j < d; j++) s += r[j]! * got.components[c]![j]!;
        const sign = Math.sign(s);
        assert.ok(
          Math.abs(Math.abs(s) - 1) < 1e-9,
          `component ${c} is not parallel (|cos| = ${s})`,
        );
        for (let i = 0; i < n; i++) {
          const diff = Math.abs(sign * got.projected[i * 2 + c]! - refProj.data[i * 2 + c]!);
          assertAtMost(diff, 1e-8, `projection ${i},${c}`);
        }
        assertAtMost(
          Math.abs(got.explainedVarianceRatio[c]! - refRatio.data[c]!),
          1e-10,
          `ratio ${c}`,
        );
      }
    });
  }
});

Deno.test("pca() with standardize matches sklearn's StandardScaler then PCA", () => {
  for (const name of ["tall", "wide"]) {
    const rows = rowsOf(name);
    const refProj = readFixtureNpy("demo", `pca_${name}_std_projected.npy`);
    const refRatio = readFixtureNpy("demo", `pca_${name}_std_ratio.npy`);
    const got = pca(rows, { k: 2, standardize: true });
    for (let c = 0; c < 2; c++) {
      // Align the sign on the first score, then compare every score.
      const sign = Math.sign(got.projected[c]! * refProj.data[c]!);
      for (let i = 0; i < rows.length; i++) {
        const diff = Math.abs(sign * got.projected[i * 2 + c]! - refProj.data[i * 2 + c]!);
        assertAtMost(diff, 1e-8, `${name} projection ${i},${c}`);
      }
      assertAtMost(
        Math.abs(got.explainedVarianceRatio[c]! - refRatio.data[c]!),
        1e-10,
        `${name} ratio ${c}`,
      );
    }
  }
});

Deno.test("pca() rejects too few rows and ragged rows", () => {
  assert.throws(() => pca([[1, 2]]), /at least 2 rows/);
  assert.throws(() => pca([[1, 2], [1]]), /row 1 has 1 values/);
});

Deno.test("encodePng() writes a PNG that decodes to the same pixels", () => {
  const r = new Raster(7, 5, [10, 20, 30]);
  r.set(3, 2, [255, 0, 0]);
  const bytes = encodePng(r);
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const back = decodePng(bytes);
  assert.equal(back.width, 7);
  assert.equal(back.height, 5);
  assert.deepEqual(back.data, r.data);
  assert.deepEqual([...back.data.subarray((2 * 7 + 3) * 4, (2 * 7 + 3) * 4 + 4)], [255, 0, 0, 255]);
});

Deno.test("Raster draws text glyphs and clips drawing outside the image", () => {
  const r = new Raster(40, 12);
  r.text(1, 1, "A1", [0, 0, 0]);
  // 'A' has ink at the top middle (row 0, column 2) and none at the top-left corner.
  assert.deepEqual(r.get(1 + 2, 1), [0, 0, 0]);
  assert.deepEqual(r.get(1, 1), [255, 255, 255]);
  assert.equal(textWidth("A1"), 11);
  r.line(-10, -10, 100, 100, [1, 2, 3], 3);
  r.dot(39, 11, 5, [4, 5, 6]);
  assert.deepEqual(r.get(5, 5), [1, 2, 3]);
});

Deno.test("niceTicks() gives round values inside the range", () => {
  assert.deepEqual(niceTicks(0, 199), [0, 50, 100, 150]);
  assert.deepEqual(niceTicks(0.23, 2.4), [0.5, 1, 1.5, 2]);
  const t = niceTicks(-3.2, 4.9);
  assert.ok(t.every((v) => v >= -3.2 && v <= 4.9) && t.length >= 3, `ticks ${t}`);
  assert.equal(formatTick(0.30000000000000004), "0.3");
  assert.equal(formatTick(250000), "2.5e5");
});

function countColor(r: Raster, c: readonly number[]): number {
  let k = 0;
  for (let i = 0; i < r.data.length; i += 4) {
    if (r.data[i] === c[0] && r.data[i + 1] === c[1] && r.data[i + 2] === c[2]) k++;
  }
  return k;
}

Deno.test("linePlot() draws the series in its colour over a framed, labeled plot", () => {
  const xs = [0, 1, 2, 3, 4], ys = [5, 3, 2, 1.5, 1.2];
  const r = linePlot([{ name: "loss", xs, ys }], { title: "T", xLabel: "step", yLabel: "loss" });
  assert.equal(r.width, 720);
  assert.ok(countColor(r, PALETTE[0]!) > 300, "the line is drawn");
  assert.ok(countColor(r, [0, 0, 0]) > 1000, "frame, ticks and text are drawn");
  const flat = linePlot([{ name: "x", xs: [0, 1], ys: [2, 2] }], {
    title: "",
    xLabel: "",
    yLabel: "",
  });
  assert.ok(countColor(flat, PALETTE[0]!) > 100, "a flat series still shows");
});

Deno.test("scatterPlot() colours points by label and shows a legend entry per label", () => {
  const pts = [
    { x: 0, y: 0, label: "b" },
    { x: 1, y: 1, label: "a" },
    { x: 2, y: 0.5, label: "c" },
  ];
  const r = scatterPlot(pts, { title: "PCA", xLabel: "PC1", yLabel: "PC2" });
  for (let k = 0; k < 3; k++) {
    // A dot of radius 4 (~50 px) plus a 14x14 legend swatch.
    assert.ok(countColor(r, PALETTE[k]!) >= 14 * 14 + 40, `label ${k} colour present`);
  }
  assert.equal(countColor(r, PALETTE[3]!), 0);
});

function wavHeader(rate: number, dataBytes: number): Uint8Array {
  const b = new Uint8Array(44);
  const v = new DataView(b.buffer);
  b.set(new TextEncoder().encode("RIFF"), 0);
  v.setUint32(4, 36 + dataBytes, true);
  b.set(new TextEncoder().encode("WAVEfmt "), 8);
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true);
  v.setUint16(22, 1, true);
  v.setUint32(24, rate, true);
  v.setUint32(28, rate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  b.set(new TextEncoder().encode("data"), 36);
  v.setUint32(40, dataBytes, true);
  return b;
}

Deno.test("wavSeconds() reads the duration from a WAV header and rejects other files", () => {
  assert.equal(wavSeconds(wavHeader(8000, 8000 * 2 * 3)), 3);
  assert.equal(wavSeconds(new TextEncoder().encode("ID3 not a wav file")), undefined);
});

function fakeClips(): Map<string, DemoClip[]> {
  const m = new Map<string, DemoClip[]>();
  for (const label of ["x", "y", "z"]) {
    m.set(
      label,
      Array.from({ length: 10 }, (_, i) => ({ path: `/d/${label}/${i}.wav`, label, seconds: 2 })),
    );
  }
  return m;
}

Deno.test("pickBalanced() and assignFolds() give a seeded, balanced, stratified subset", () => {
  const picked = pickBalanced(fakeClips(), 6, 1);
  assert.equal(picked.length, 18);
  assert.deepEqual(picked, pickBalanced(fakeClips(), 6, 1));
  assert.notDeepEqual(picked, pickBalanced(fakeClips(), 6, 2));
  const folded = assignFolds(picked, 3, 1);
  for (const label of ["x", "y", "z"]) {
    for (const f of [1, 2, 3]) {
      assert.equal(folded.filter((c) => c.label === label && c.fold === f).length, 2);
    }
  }
  assert.throws(() => pickBalanced(fakeClips(), 11, 0), /needs 11 clips labeled 'x' but found 10/);
});

Deno.test("labeledCsv() writes a set that the probe's CSV reader accepts", () => {
  const folded = assignFolds(pickBalanced(fakeClips(), 3, 0), 3, 0);
  folded[0]!.path = "/d/with,comma.wav";
  const set = parseLabeledCsv(labeledCsv(folded), "/tmp/labels.csv");
  assert.equal(set.items.length, 9);
  assert.ok(set.hasFold && !set.hasSplit);
  assert.equal(set.items[0]!.resolved, "/d/with,comma.wav");
  assert.deepEqual(new Set(set.items.map((i) => i.fold)), new Set(["1", "2", "3"]));
});

Deno.test("findDemoData() names the apt-get command when the data is missing", async () => {
  const empty = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () => findDemoData(empty),
      /apt-get install -y asterisk-core-sounds-en-wav/,
    );
  } finally {
    await Deno.remove(empty, { recursive: true });
  }
});

function sampleReport(): DemoReport {
  // Two seeds: the second seed's folds are the first's shifted by `d`.
  const result = (key: MethodResult["key"], folds: number[], d: number): MethodResult =>
    summarize({ key, name: key }, [
      { seed: 1, dim: 128, folds },
      { seed: 2, dim: 128, folds: folds.map((a) => a - d) },
    ]);
  const run = (seed: number) => ({
    seed,
    run: `pretrain/seed-${seed}`,
    seconds: 1,
    firstLoss: 3.9,
    lastLoss: 3.8,
    lastStdStudent: 0.05,
  });
  return {
    version: 3,
    command: "deno task demo --quick",
    quick: true,
    seeds: [1, 2],
    data: { root: "/r", classes: ["en", "es"], labeledPerClass: 6, folds: 3, unlabeled: 8 },
    pretrain: {
      size: "tiny",
      steps: 2,
      batch: 4,
      cropSeconds: 1,
      lr: 2e-4,
      ema: 0.95,
      seconds: 2,
      firstLoss: 3.9,
      lastLoss: 3.8,
      runs: [run(1), run(2)],
    },
    stages: [{ name: "data", seconds: 0.1, outputs: ["data/labels.csv"] }],
    results: [
      result("baseline", [0.5, 1, 0.75], 0),
      result("random", [0.5, 0.5, 0.5], 0.25),
      result("pretrained", [1, 1, 0.5], 0),
    ],
    gain: { perSeed: [1 / 3, 7 / 12], mean: 11 / 24, std: 1 / 8, wins: 2 },
    events: {
      files: 6,
      seconds: 10,
      label: "speech",
      folds: 3,
      seed: 1,
      events: 13,
      tsv: "events/events.tsv",
      results: [eventResult("logmel", 64), eventResult("pretrained", 192)],
      shown: ["audio/000.wav", "audio/001.wav"],
    },
    plots: { loss: "loss.png", pca: ["pca_pretrained.png"], sed: "sed.png" },
    totalSeconds: 12,
  };
}

function eventResult(key: EventMethodResult["key"], dim: number): EventMethodResult {
  const scores = { segmentF1: 0.9, segmentER: 0.2, eventF1: 0.5, onsetF1: 0.7, frameMAP: 0.95 };
  const spread = { segmentF1: 0.01, segmentER: 0.02, eventF1: 0.1, onsetF1: 0.05, frameMAP: 0 };
  return {
    key,
    name: key,
    dim,
    report: `probe/events/${key}.json`,
    predictions: `probe/events/${key}.pred.tsv`,
    mean: scores,
    std: spread,
  };
}

Deno.test("parseReport() accepts a well-formed report and names the first bad field", () => {
  const good = sampleReport();
  assert.deepEqual(parseReport(JSON.stringify(good)), good);
  assert.throws(() => parseReport("{"), /not JSON/);
  const badFolds = sampleReport();
  badFolds.results[1]!.folds = [0.5];
  assert.throws(() => parseReport(JSON.stringify(badFolds)), /random: expected 3 fold accuracies/);
  const badAcc = sampleReport();
  badAcc.results[2]!.folds[0] = 1.5;
  assert.throws(() => parseReport(JSON.stringify(badAcc)), /pretrained: accuracy 1.5 outside 0..1/);
  const order = sampleReport();
  order.results.reverse();
  assert.throws(
    () => parseReport(JSON.stringify(order)),
    /results must be baseline, random, pretrained/,
  );
  const badSeedFolds = sampleReport();
  badSeedFolds.results[2]!.seeds[1]!.folds = [1];
  assert.throws(
    () => parseReport(JSON.stringify(badSeedFolds)),
    /pretrained: expected 3 fold accuracies for seed 2/,
  );
  const missingSeed = sampleReport();
  missingSeed.results[0]!.seeds.pop();
  assert.throws(
    () => parseReport(JSON.stringify(missingSeed)),
    /baseline: expected one result per seed/,
  );
  const missingRun = sampleReport();
  missingRun.pretrain.runs.pop();
  assert.throws(() => parseReport(JSON.stringify(missingRun)), /one run per seed/);
  const old = { ...sampleReport(), version: 1 };
  assert.throws(() => parseReport(JSON.stringify(old)), /unknown version 1/);
  const v2 = { ...sampleReport(), version: 2 };
  assert.throws(() => parseReport(JSON.stringify(v2)), /unknown version 2/);
});

Deno.test("parseReport() checks the event-detection step's fields", () => {
  const noEvents: Partial<DemoReport> = sampleReport();
  delete noEvents.events;
  assert.throws(() => parseReport(JSON.stringify(noEvents)), /events must hold files/);
  const noSed = sampleReport() as unknown as { plots: Record<string, unknown> };
  delete noSed.plots.sed;
  assert.throws(() => parseReport(JSON.stringify(noSed)), /event-detection PNG/);
  const order = sampleReport();
  order.events.results.reverse();
  assert.throws(() => parseReport(JSON.stringify(order)), /logmel, pretrained in that order/);
  const badF1 = sampleReport();
  badF1.events.results[1]!.mean.eventF1 = 1.2;
  assert.throws(() => parseReport(JSON.stringify(badF1)), /pretrained: eventF1 must be a mean/);
  const noShown = sampleReport();
  noShown.events.shown = [];
  assert.throws(() => parseReport(JSON.stringify(noShown)), /files shown/);
});

Deno.test("formatEventsTable() prints one row per kind of frames, in % but the error rate", () => {
  const table = formatEventsTable(sampleReport().events).split("\n");
  assert.equal(table.length, 4);
  assert.match(table[0]!, /\| frames +\| dim \| segment F1 +\| segment ER +\| event F1/);
  assert.match(
    table[2]!,
    /^\| logmel +\| 64 +\| 90\.0 ± 1\.0 +\| 0\.20 ± 0\.02 +\| 50\.0 ± 10\.0 /,
  );
  assert.match(table[3]!, /^\| pretrained +\| 192 +\| .*\| 95\.0 ± 0\.0 +\|$/);
});

Deno.test("trimSilence() cuts the silent edges of a clip down to its sound", () => {
  const x = new Float32Array(16000);
  for (let i = 4000; i < 12000; i++) x[i] = 0.3 * Math.sin(i / 5);
  x[100] = 1e-4; // under -40 dB of the peak: still silence
  const t = trimSilence(x);
  assert.equal(t.length, 8000);
  assert.equal(t.byteOffset / 4, 4000);
  assert.equal(trimSilence(new Float32Array(800)).length, 0);
});

Deno.test("mixClips() places seeded, non-overlapping clips in noise, inside each file", () => {
  const clips = [0.5, 1.2, 2, 3].map((s) =>
    Float32Array.from({ length: s * 16000 }, (_, i) => Math.sin(i / 3))
  );
  const opts = { files: 4, seconds: 8, seed: 3 };
  const mixes = mixClips(clips, opts);
  assert.deepEqual(mixClips(clips, opts), mixes, "same seed, same mixtures");
  assert.notDeepEqual(mixClips(clips, { ...opts, seed: 4 })[0]!.events, mixes[0]!.events);
  const lengths = new Set(clips.map((c) => c.length / 16000));
  for (const m of mixes) {
    assert.equal(m.samples.length, 8 * 16000);
    assert.ok(m.events.length >= 1);
    assert.ok(m.events[0]!.onset >= 0.5);
    m.events.forEach((e, k) => {
      assert.equal(e.label, "speech");
      assert.ok(e.offset <= 8 - 0.3 + 1e-9, `offset ${e.offset}`);
      assert.ok(
        lengths.has(Math.round((e.offset - e.onset) * 1000) / 1000),
        `${e.onset}-${e.offset}`,
      );
      if (k) assert.ok(e.onset - m.events[k - 1]!.offset >= 0.5 - 1e-3, "gap between clips");
    });
    // Before the first clip there is only the background, at its set level.
    const quiet = m.samples.subarray(0, Math.floor(m.events[0]!.onset * 16000));
    const r = Math.sqrt(quiet.reduce((a, v) => a + v * v, 0) / quiet.length);
    assert.ok(r > 0.005 && r < 0.02, `background rms ${r}`);
  }
});

Deno.test("pcm16Wav() writes a WAV that the audio decoder reads back", async () => {
  const x = Float32Array.from({ length: 1600 }, (_, i) => 0.5 * Math.sin(i / 7));
  x[3] = 2; // clipped
  const d = await decodeBytes(pcm16Wav(x));
  assert.equal(d.sampleRate, 16000);
  assert.equal(d.channels.length, 1);
  const y = d.channels[0]!;
  assert.equal(y.length, x.length);
  assertAtMost(Math.abs(y[3]! - 32767 / 32768), 1e-4, "clipped sample");
  x[3] = y[3]!;
  assertAtMost(maxAbsDiff(y, x), 1 / 32767 + 1e-6, "samples");
});

Deno.test("levelCurve() maps the background to 0 and the loudest frame to 1", () => {
  const x = Float32Array.from({ length: 16000 }, (_, i) => (i < 8000 ? 0.01 : 0.3) * Math.sin(i));
  const c = levelCurve(x);
  assert.equal(c.length, 25);
  assert.ok(c.slice(0, 12).every((v) => v < 0.05), `quiet half: ${c.slice(0, 12)}`);
  assert.ok(c.slice(13).every((v) => v > 0.95), `loud half: ${c.slice(13)}`);
});

Deno.test("intervalsOf() reads one file's events from a DCASE TSV, skipping empty rows", () => {
  const tsv = "filename\tonset\toffset\tevent_label\na.wav\t0.5\t1.25\tspeech\nb.wav\t\t\t\n" +
    "a.wav\t2\t3\tspeech\n";
  assert.deepEqual(intervalsOf(tsv, "a.wav"), [[0.5, 1.25], [2, 3]]);
  assert.deepEqual(intervalsOf(tsv, "b.wav"), []);
});

Deno.test("activityFigure() draws each lane's intervals at their times, at its stated size", () => {
  const red: [number, number, number] = [214, 39, 40];
  const panel = {
    title: "a.wav",
    seconds: 10,
    lanes: [
      { name: "true", color: red, intervals: [[2, 4]] as [number, number][] },
      { name: "level", color: [0, 0, 0] as const, curve: [0, 1, 0.5], stepS: 4 },
    ],
  };
  const r = activityFigure([panel, panel], "Speech");
  assert.deepEqual({ width: r.width, height: r.height }, activityFigureSize([2, 2]));
  // Along the first panel's first lane: red inside 2-4 s, none before 2 s or after 4 s.
  const rowOf = (y: number) => Array.from({ length: r.width }, (_, x) => r.get(x, y));
  const reds = (y: number) =>
    rowOf(y).map((c, x) => (c.join() === red.join() ? x : -1)).filter((x) => x >= 0);
  const row = Array.from({ length: r.height }, (_, y) => y).find((y) => reds(y).length > 0)!;
  const xs = reds(row);
  const span = xs.at(-1)! - xs[0]! + 1;
  const left = xs[0]! - span; // the plot starts 2 s (one span) before the interval
  assert.ok(left > 40, `label column: ${left}`);
  assert.ok(Math.abs((r.width - 16 - left) / span - 5) < 0.05, `10 s is five spans`);
  assert.equal(xs.length, span, "one solid run");
});

Deno.test("readEventProbe() reads an events report's dim and metrics and rejects a clip report", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const m = { segmentF1: 0.9, segmentER: 0.2, eventF1: 0.5, onsetF1: 0.7, frameMAP: 0.95 };
    const good = join(dir, "good.json");
    const extra = { ...m, eventMacroF1: 0.4 };
    await Deno.writeTextFile(
      good,
      JSON.stringify({ task: "events", embeddings: { dim: 64 }, mean: extra, std: extra }),
    );
    assert.deepEqual(await readEventProbe(good), { dim: 64, mean: m, std: m });
    const clip = join(dir, "clip.json");
    await Deno.writeTextFile(clip, JSON.stringify({ embeddings: { dim: 16 }, folds: [] }));
    await assert.rejects(() => readEventProbe(clip), /not an events report/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("summarize() averages folds within a seed, then gives mean and std over seeds", () => {
  const r = summarize({ key: "random", name: "(b)" }, [
    { seed: 1, dim: 8, folds: [0.5, 1] },
    { seed: 2, dim: 8, folds: [1, 1] },
  ]);
  assert.deepEqual(r.seeds.map((s) => s.mean), [0.75, 1]);
  assert.deepEqual(r.seeds.map((s) => s.std), [0.25, 0]);
  assert.equal(r.mean, 0.875);
  assert.equal(r.std, 0.125);
  assert.deepEqual(r.folds, [0.75, 1]);
  assert.equal(r.dim, 8);
  assert.throws(
    () =>
      summarize({ key: "random", name: "(b)" }, [
        { seed: 1, dim: 8, folds: [1] },
        { seed: 2, dim: 9, folds: [1] },
      ]),
    /seed 2 has another dim/,
  );
  assert.throws(() => summarize({ key: "random", name: "(b)" }, []), /No probe results/);
});

Deno.test("formatGain() gives the paired gain per seed in points and the wins", () => {
  const line = formatGain({ perSeed: [0.02, -0.005, 0.01], mean: 0.00833, std: 0.0103, wins: 2 });
  assert.equal(
    line,
    "Pre-trained minus random weights, per seed: +2.0 -0.5 +1.0 points (mean +0.8 ± 1.0); " +
      "pre-training is ahead in 2 of 3 seeds.",
  );
});

Deno.test("readProbeAccuracy() reads dim and per-fold accuracy and rejects other reports", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const good = join(dir, "good.json");
    await Deno.writeTextFile(
      good,
      JSON.stringify({
        embeddings: { dim: 16 },
        folds: [{ test: { accuracy: 0.5 } }, { test: { accuracy: 0.75 } }],
      }),
    );
    assert.deepEqual(await readProbeAccuracy(good), { dim: 16, folds: [0.5, 0.75] });
    const bad = join(dir, "bad.json");
    await Deno.writeTextFile(bad, JSON.stringify({ embeddings: { dim: 16 }, folds: [{}] }));
    await assert.rejects(() => readProbeAccuracy(bad), /lacks embeddings.dim or a test accuracy/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("formatTable() prints one row per method with mean and std over seeds, per seed and fold spread in percent", () => {
  const r = sampleReport();
  const text = formatTable(r.results, 2);
  const lines = text.split("\n");
  assert.match(
    lines[0]!,
    /^\| features +\| dim \| accuracy % \(mean ± std over 2 seeds\) \| per seed % +\| std over folds % \|$/,
  );
  // Both seeds of the baseline have folds 50, 100, 75: mean 75, no spread over seeds,
  // 20.4 over folds.
  assert.match(lines[2]!, /^\| baseline +\| 128 \| 75\.0 ± 0\.0 +\| 75\.0 75\.0 +\| 20\.4 +\|$/);
  assert.match(lines[3]!, /^\| random +\| 128 \| 37\.5 ± 12\.5 +\| 50\.0 25\.0 +\| 0\.0 +\|$/);
  assert.equal(lines.filter((l) => l.startsWith("|")).length, 5);
  assert.match(text, /Chance level: 50\.0 %/);
});

Deno.test("meanStdPool() gives each mel bin's mean then standard deviation over frames", () => {
  // 2 bins x 4 frames: bin 0 = [1, 2, 3, 4], bin 1 = [5, 5, 5, 5].
  const f = { data: Float32Array.from([1, 2, 3, 4, 5, 5, 5, 5]), nMels: 2, frames: 4 };
  const v = meanStdPool(f);
  assert.deepEqual([...v], [2.5, 5, Math.fround(Math.sqrt(1.25)), 0]);
  assert.throws(() => meanStdPool({ data: new Float32Array(0), nMels: 2, frames: 0 }), /no frames/);
});

Deno.test("prepareOut() empties a previous demo folder and refuses any other non-empty folder", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "precious.txt"), "keep me");
    await assert.rejects(() => prepareOut(dir), /is not empty and not a previous demo's/);
    assert.equal(await Deno.readTextFile(join(dir, "precious.txt")), "keep me");
    await Deno.remove(join(dir, "precious.txt"));
    await prepareOut(dir);
    await Deno.mkdir(join(dir, "pretrain"));
    await Deno.writeTextFile(join(dir, "pretrain", "log.jsonl"), "{}\n");
    await prepareOut(dir);
    const names = [...Deno.readDirSync(dir)].map((e) => e.name);
    assert.deepEqual(names, [MARKER]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("lossFigure() stacks the loss and the collapse monitor, one colour per seed", () => {
  const steps = Array.from({ length: 40 }, (_, i) => i + 1);
  const run = (seed: number, k: number) => ({
    seed,
    steps,
    loss: steps.map((s) => 2 / (1 + k * s)),
    stdStudent: steps.map((s) => 0.06 - 0.0005 * k * s),
    seconds: steps.map(() => 0.5),
    outDim: 256,
  });
  const r = lossFigure([run(1, 1), run(2, 2)], "Pre-training");
  assert.equal(r.width, 720);
  assert.equal(r.height, 800);
  const inTop = (c: readonly number[]) => {
    let k = 0;
    for (let y = 0; y < 400; y++) {
      for (let x = 0; x < 720; x++) {
        k += r.get(x, y).join() === c.join() ? 1 : 0;
      }
    }
    return k;
  };
  for (const [k, c] of [PALETTE[0]!, PALETTE[1]!].entries()) {
    const all = countColor(r, c), top = inTop(c);
    assert.ok(top > 300, `seed ${k + 1}: loss trend drawn (${top} px)`);
    assert.ok(all - top > 300, `seed ${k + 1}: std trend drawn (${all - top} px)`);
  }
  // The 1/sqrt(d) reference line is grey, in the lower panel only.
  assert.equal(inTop([127, 127, 127]), 0);
  assert.ok(countColor(r, [127, 127, 127]) > 300, "reference line drawn");
});

Deno.test("linePlot() can pin the y axis' lower end and keep a series out of the legend", () => {
  const frame = { title: "", xLabel: "", yLabel: "", yFrom: 0 };
  const xs = [0, 1], ys = [0.5, 0.6];
  const plot = (legend: boolean) =>
    linePlot([{ name: "a", xs, ys, legend }, { name: "b", xs, ys: [0.55, 0.58] }], frame);
  const r = plot(false), both = plot(true);
  // The legend swatch (14 x 14) of "a" is all that differs.
  assert.equal(countColor(both, PALETTE[0]!) - countColor(r, PALETTE[0]!), 14 * 14);
  assert.equal(countColor(both, PALETTE[1]!), countColor(r, PALETTE[1]!));
  // With the axis from 0, the lines sit in the upper part of the plot.
  let lowest = 0;
  for (let y = 0; y < r.height; y++) {
    for (let x = 0; x < 500; x++) if (r.get(x, y).join() === PALETTE[0]!.join()) lowest = y;
  }
  assert.ok(lowest < r.height / 2, `the line is high on a 0-based axis (y ${lowest})`);
});

Deno.test("Raster.draw() copies another raster into place, clipped", () => {
  const big = new Raster(4, 4), small = new Raster(2, 2, [9, 9, 9]);
  big.draw(small, 3, 3);
  assert.deepEqual(big.get(3, 3), [9, 9, 9]);
  assert.deepEqual(big.get(2, 2), [255, 255, 255]);
});

Deno.test("smooth() is a centred moving average that keeps a straight line straight", () => {
  assert.deepEqual(smooth([0, 1, 2, 3, 4], 3), [0.5, 1, 2, 3, 3.5]);
  assert.deepEqual(smooth([5, 5, 5], 5), [5, 5, 5]);
});

Deno.test("initialEncoder() has exactly the weights pre-training's teacher starts from", () => {
  const seed = 3;
  const mine = initialEncoder("tiny", seed);
  const nets = new TeacherStudent(encoderConfig("tiny"), { hidden: 8, out: 4 }, seed);
  try {
    const theirs = nets.teacher.encoder.params();
    assert.equal(mine.params().size, theirs.size);
    for (const [name, v] of mine.params()) {
      const a = v.dataSync(), b = theirs.get(name)!.dataSync();
      assert.equal(maxAbsDiff(a, b), 0, name);
    }
  } finally {
    mine.dispose();
    nets.dispose();
  }
  assert.throws(() => initialEncoder("tiny", 0), /seed of at least 1/);
});
