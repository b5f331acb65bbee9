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
import { smooth } from "../lib/demo/figures.ts";
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
import {
  type DemoReport,
  formatTable,
  meanStd,
  type MethodResult,
  parseReport,
} from "../lib/demo/report.ts";

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
  const result = (key: MethodResult["key"], folds: number[]): MethodResult => ({
    key,
    name: key,
    dim: 128,
    folds,
    ...meanStd(folds),
  });
  return {
    version: 1,
    command: "deno task demo --quick",
    quick: true,
    data: { root: "/r", classes: ["en", "es"], labeledPerClass: 6, folds: 3, unlabeled: 8 },
    pretrain: { size: "tiny", steps: 2, seconds: 1, firstLoss: 3.9, lastLoss: 3.8 },
    stages: [{ name: "data", seconds: 0.1, outputs: ["data/labels.csv"] }],
    results: [
      result("baseline", [0.5, 1, 0.75]),
      result("random", [0.5, 0.5, 0.5]),
      result("pretrained", [1, 1, 0.5]),
    ],
    plots: { loss: "loss.png", pca: ["pca_pretrained.png"] },
    totalSeconds: 12,
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
});

Deno.test("formatTable() prints one row per method with mean, std and folds in percent", () => {
  const r = sampleReport();
  const text = formatTable(r.results, 2);
  const lines = text.split("\n");
  assert.match(lines[0]!, /^\| features +\| dim \| accuracy % \(mean ± std\) +\| per fold % +\|$/);
  assert.match(lines[2]!, /^\| baseline +\| 128 \| 75\.0 ± 20\.4 +\| 50\.0 100\.0 75\.0 +\|$/);
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
