import assert from "node:assert/strict";
import { tf } from "../lib/backend/tf.ts";
import { UserError } from "../lib/errors.ts";
import { decodeNpy } from "../lib/io/npy.ts";
import { evaluateProbe } from "../lib/probe/evaluate.ts";
import { jsGemm, tfGemm } from "../lib/probe/gemm.ts";
import { type LabeledSet, parseLabeledCsv } from "../lib/probe/labeled_set.ts";
import { multiLabelMetrics } from "../lib/probe/metrics.ts";
import { fitLinear, predictProbe, type ProbeData, probeMetric } from "../lib/probe/linear.ts";
import { lrSchedule, protocolConfig } from "../lib/probe/protocols.ts";
import { Rng } from "../lib/rng.ts";
import { checkFolds, planFolds } from "../lib/probe/splits.ts";

function fixtureNpy(name: string) {
  return decodeNpy(Deno.readFileSync(new URL(`../fixtures/probe/${name}`, import.meta.url)), name);
}

function fixtureJson(name: string): Record<string, number> {
  return JSON.parse(Deno.readTextFileSync(new URL(`../fixtures/probe/${name}`, import.meta.url)));
}

/** Loads one split of a fixture problem; single-label targets become one-hot rows. */
function fixtureSplit(kind: "single" | "multi", split: string, classes: number): ProbeData {
  const x = fixtureNpy(`${kind}_x_${split}.npy`);
  const labels = fixtureNpy(`${kind}_y_${split}.npy`);
  const n = x.shape[0]!;
  const y = new Float32Array(n * classes);
  if (kind === "single") { for (let i = 0; i < n; i++) y[i * classes + labels.data[i]!] = 1; }
  else y.set(labels.data);
  return { x: x.data as Float32Array, y, n };
}

/** Well separated Gaussian clusters, far from the origin and badly scaled (standardisation must cope). */
function clusters(
  n: number,
  dim: number,
  classes: number,
  seed: number,
): ProbeData & { labels: number[] } {
  const centreRng = new Rng(1000 + dim * classes); // the same centres for train, valid and test
  const centres = Array.from(
    { length: classes },
    () => Float32Array.from({ length: dim }, () => 4 * centreRng.normal()),
  );
  const rng = new Rng(seed);
  const x = new Float32Array(n * dim);
  const y = new Float32Array(n * classes);
  const labels: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    labels.push(c);
    y[i * classes + c] = 1;
    for (let d = 0; d < dim; d++) {
      x[i * dim + d] = 100 + (d + 1) * (centres[c]![d]! + 0.3 * rng.normal());
    }
  }
  return { x, y, n, labels };
}

Deno.test("separable synthetic embeddings reach 100 % test accuracy under both protocols", async (t) => {
  const dim = 48, classes = 6;
  const train = clusters(300, dim, classes, 1),
    valid = clusters(60, dim, classes, 2),
    test = clusters(120, dim, classes, 3);
  for (const protocol of ["reference", "evar"] as const) {
    await t.step(protocol, async () => {
      const fit = await fitLinear(
        { train, valid, dim, classes, multiLabel: false },
        protocolConfig(protocol),
      );
      const scores = await predictProbe(fit.probe, test.x, test.n);
      assert.equal(probeMetric(scores, test.y, classes, false), 1);
      assert.ok(fit.bestEpoch >= 1 && fit.bestEpoch <= fit.epochsRun);
    });
  }
});

Deno.test("the reference protocol's lr is 0.002 * 1024 / 256 with cosine annealing over the epochs", () => {
  const cfg = protocolConfig("reference");
  const lrs = lrSchedule(cfg);
  assert.equal(lrs.length, 100);
  assert.equal(lrs[0], 0.008);
  assert.ok(Math.abs(lrs[50]! - 0.004) < 1e-15);
  assert.ok(lrs[99]! > 0 && lrs[99]! < 1e-5);
  assert.equal(protocolConfig("evar", { epochs: 7 }).epochs, 7);
});

Deno.test("the probe agrees with scikit-learn's LogisticRegression on the same standardised features", async (t) => {
  await t.step("single label: accuracy within 2 points", async () => {
    const ref = fixtureJson("single_reference.json");
    const C = ref.classes!, dim = ref.dim!;
    const [train, valid, test] = ["train", "valid", "test"].map((s) =>
      fixtureSplit("single", s, C)
    ) as [ProbeData, ProbeData, ProbeData];
    const fit = await fitLinear(
      { train, valid, dim, classes: C, multiLabel: false },
      protocolConfig("reference"),
    );
    const acc = probeMetric(await predictProbe(fit.probe, test.x, test.n), test.y, C, false);
    const lr = ref.logisticRegressionTestAccuracy!;
    assert.ok(lr < 0.97, "the fixture must not be trivially separable");
    assert.ok(Math.abs(acc - lr) <= 0.02, `probe accuracy ${acc} vs LogisticRegression ${lr}`);
  });
  await t.step(
    "multi-label: macro mAP within 2 points of one-vs-rest LogisticRegression",
    async () => {
      const ref = fixtureJson("multi_reference.json");
      const C = ref.classes!, dim = ref.dim!;
      const [train, valid, test] = ["train", "valid", "test"].map((s) =>
        fixtureSplit("multi", s, C)
      ) as [ProbeData, ProbeData, ProbeData];
      const fit = await fitLinear(
        { train, valid, dim, classes: C, multiLabel: true },
        protocolConfig("reference"),
      );
      const map = probeMetric(await predictProbe(fit.probe, test.x, test.n), test.y, C, true);
      const lr = ref.oneVsRestLogisticRegressionTestMAP!;
      assert.ok(Math.abs(map - lr) <= 0.02, `probe mAP ${map} vs LogisticRegression ${lr}`);
    },
  );
});

Deno.test("fitLinear reproduces the PyTorch protocols step by step from the same initial weights", async (t) => {
  type Run = {
    weight: number[];
    bias: number[];
    losses: number[];
    runningMean?: number[];
    runningVar?: number[];
  };
  const g = JSON.parse(
    Deno.readTextFileSync(new URL("../fixtures/probe/steps.json", import.meta.url)),
  ) as {
    n: number;
    dim: number;
    classes: number;
    epochs: number;
    x: number[];
    y: number[];
    yMulti: number[];
    init: number[];
  } & Record<"reference" | "referenceMulti" | "evar" | "evarMulti", Run>;
  const { n, dim, classes: C, epochs } = g;
  const single = new Float32Array(n * C);
  g.y.forEach((c, i) => (single[i * C + c] = 1));
  const near = (a: ArrayLike<number>, b: number[], tol: number, what: string) => {
    assert.equal(a.length, b.length, what);
    for (let i = 0; i < b.length; i++) {
      assert.ok(
        Math.abs(a[i]! - b[i]!) <= tol * Math.max(1, Math.abs(b[i]!)),
        `${what}[${i}]: ${a[i]} vs ${b[i]}`,
      );
    }
  };
  const cases = [
    ["reference", false, "reference"],
    ["reference", true, "referenceMulti"],
    ["evar", false, "evar"],
    ["evar", true, "evarMulti"],
  ] as const;
  for (const [protocol, multiLabel, key] of cases) {
    await t.step(
      `${protocol}, ${multiLabel ? "sigmoid + BCE" : "softmax + cross-entropy"}`,
      async () => {
        const data = {
          x: Float32Array.from(g.x),
          y: multiLabel ? Float32Array.from(g.yMulti) : single,
          n,
        };
        const fit = await fitLinear(
          { train: data, valid: data, dim, classes: C, multiLabel },
          protocolConfig(protocol, { epochs }),
          { initWeight: Float32Array.from(g.init) },
        );
        const ref = g[key];
        assert.equal(fit.epochsRun, epochs);
        near(fit.history.map((h) => h.loss), ref.losses, 1e-5, "loss per epoch");
        near(fit.last.weight, ref.weight, 1e-6, "weight");
        near(fit.last.bias, ref.bias, 1e-6, "bias");
        if (ref.runningMean && ref.runningVar) {
          near(fit.last.mean, ref.runningMean, 1e-5, "BatchNorm running mean");
          near(
            fit.last.invStd,
            ref.runningVar.map((v) => 1 / Math.sqrt(v + 1e-5)),
            1e-5,
            "1 / sqrt(running var + eps)",
          );
        }
      },
    );
  }
});

Deno.test("tfjs products match the plain loops and leave no tensors behind", async () => {
  const rng = new Rng(5);
  const s = { rows: 7, dim: 33, classes: 5 };
  const x = Float32Array.from({ length: s.rows * s.dim }, () => rng.normal());
  const w = Float32Array.from({ length: s.dim * s.classes + s.classes }, () => rng.normal());
  const dz = Float32Array.from({ length: s.rows * s.classes }, () => rng.normal());
  const before = tf.memory().numTensors;
  const [a, b] = [await jsGemm.forward(x, w, s), await tfGemm.forward(x, w, s)];
  const [c, d] = [await jsGemm.gradW(x, dz, s), await tfGemm.gradW(x, dz, s)];
  assert.equal(tf.memory().numTensors, before);
  a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-4, `forward[${i}]`));
  c.forEach((v, i) => assert.ok(Math.abs(v - d[i]!) < 1e-4, `gradW[${i}]`));
  // A whole fit through tfjs keeps the tensor count flat too.
  const train = clusters(40, 8, 3, 7), valid = clusters(12, 8, 3, 8);
  await fitLinear(
    { train, valid, dim: 8, classes: 3, multiLabel: false },
    protocolConfig("evar", { epochs: 3 }),
    { gemm: tfGemm },
  );
  assert.equal(tf.memory().numTensors, before);
});

/** A labeled set of `n` items with labels `lab(i)` and folds `fold(i)`, as a CSV would give it. */
function toySet(n: number, lab: (i: number) => string, fold?: (i: number) => string): LabeledSet {
  const rows = ["path,label" + (fold ? ",fold" : "")];
  for (let i = 0; i < n; i++) rows.push(`a/${i}.wav,${lab(i)}` + (fold ? `,${fold(i)}` : ""));
  return parseLabeledCsv(rows.join("\n"), "/toy/labels.csv");
}

Deno.test("with three folds each fold is test once, the next one validates and the third trains", async (t) => {
  const set = toySet(30, (i) => `c${i % 2}`, (i) => String(1 + Math.floor(i / 10)));
  const folds = planFolds(set, { seed: 0 });
  await t.step("assignment", () => {
    const fold = (idx: number[]) => [...new Set(idx.map((i) => set.items[i]!.fold))];
    assert.deepEqual(folds.map((f) => [f.name, fold(f.test), fold(f.valid), fold(f.train)]), [
      ["1", ["1"], ["2"], ["3"]],
      ["2", ["2"], ["3"], ["1"]],
      ["3", ["3"], ["1"], ["2"]],
    ]);
    for (const f of folds) assert.equal(f.train.length + f.valid.length + f.test.length, 30);
  });
  await t.step("per-fold results, their mean and standard deviation", async () => {
    // A weak signal plus noise, so the folds score differently.
    const dim = 3, rng = new Rng(11);
    const x = new Float32Array(30 * dim);
    set.items.forEach((it, i) => {
      const sign = it.labels[0] === "c1" ? 1 : -1;
      for (let d = 0; d < dim; d++) x[i * dim + d] = 0.4 * sign + rng.normal();
    });
    const out = await evaluateProbe(
      set,
      { x, n: 30, dim, source: "toy" },
      protocolConfig("reference", { epochs: 20 }),
    );
    assert.deepEqual(
      out.folds.map((f) => f.counts),
      Array(3).fill({ train: 10, valid: 10, test: 10 }),
    );
    const accs = out.folds.map((f) => (f.test as { accuracy: number }).accuracy);
    assert.ok(new Set(accs).size > 1, `fold accuracies should differ: ${accs}`);
    const mean = (accs[0]! + accs[1]! + accs[2]!) / 3;
    assert.ok(Math.abs(out.mean.accuracy! - mean) < 1e-12);
    const std = Math.sqrt(accs.reduce((s, a) => s + (a - mean) ** 2, 0) / 3); // population std
    assert.ok(Math.abs(out.std.accuracy! - std) < 1e-12);
    // Every example is predicted exactly once, in the fold where it is test, and the
    // predictions reproduce that fold's accuracy.
    assert.deepEqual(
      out.predictions.map((p) => p.item).sort((a, b) => a - b),
      set.items.map((_, i) => i),
    );
    for (const [k, f] of out.folds.entries()) {
      const mine = out.predictions.filter((p) => p.fold === f.fold);
      assert.ok(mine.every((p) => set.items[p.item]!.fold === f.fold));
      const right = mine.filter((p) =>
        (p.scores[1]! > p.scores[0]! ? "c1" : "c0") === set.items[p.item]!.labels[0]
      );
      assert.equal(right.length / mine.length, accs[k]);
    }
  });
  await t.step("fewer than three folds is an error", () => {
    assert.throws(
      () => planFolds(toySet(10, (i) => `c${i % 2}`, (i) => String(i % 2)), { seed: 0 }),
      /at least 3/,
    );
  });
});

Deno.test("a missing validation split is a seeded, stratified 10 % of train", () => {
  const rows = ["path,label,split"];
  for (let i = 0; i < 200; i++) {
    rows.push(`${i}.wav,${i < 150 ? "a" : "b"},${i % 5 === 0 ? "test" : "train"}`);
  }
  const set = parseLabeledCsv(rows.join("\n"), "x.csv");
  const [f] = planFolds(set, { seed: 3 });
  assert.equal(f!.validFrom, "carved from train");
  const count = (idx: number[], l: string) =>
    idx.filter((i) => set.items[i]!.labels[0] === l).length;
  // train has 120 'a' and 40 'b': 10 % of each moves to validation.
  assert.deepEqual([count(f!.valid, "a"), count(f!.valid, "b")], [12, 4]);
  assert.equal(f!.train.length + f!.valid.length, 160);
  assert.deepEqual(planFolds(set, { seed: 3 })[0]!.valid, f!.valid);
  assert.notDeepEqual(planFolds(set, { seed: 4 })[0]!.valid, f!.valid);
});

Deno.test("unusable labeled sets are rejected with one clear line", async (t) => {
  const check = (set: LabeledSet) => checkFolds(set, planFolds(set, { seed: 0 }));
  await t.step("a single class", () => {
    assert.throws(
      () => check(toySet(9, () => "dog", (i) => String(i % 3))),
      /single class \('dog'\)/,
    );
  });
  await t.step("a test label absent from train", () => {
    const set = parseLabeledCsv(
      "path,label,split\na,x,train\nb,y,train\nc,x,valid\nd,z,test\n",
      "s.csv",
    );
    assert.throws(
      () => check(set),
      (e: Error) =>
        e instanceof UserError && /label 'z' of 'd' is in test but not in train/.test(e.message),
    );
  });
  await t.step("an empty split", () => {
    const set = parseLabeledCsv("path,label,split\na,x,train\nb,y,train\nc,x,valid\n", "s.csv");
    assert.throws(() => check(set), /test split is empty/);
  });
  await t.step("a CSV without the header", () => {
    assert.throws(() => parseLabeledCsv("a.wav,dog\n", "h.csv"), /header with 'path' and 'label'/);
  });
  await t.step("an unknown split name", () => {
    assert.throws(
      () => parseLabeledCsv("path,label,split\na,x,holdout\n", "h.csv"),
      /line 2: split 'holdout'/,
    );
  });
});

Deno.test("a multi-label set is scored by macro mAP, mean AUC and d-prime of its test predictions", async () => {
  // Labels 'speech' and 'music' each follow the sign of one feature; rows may have both.
  const rng = new Rng(21);
  const rows = ["path,label,split"];
  const dim = 5, n = 120;
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) x[i * dim + d] = rng.normal();
    const labels = [x[i * dim]! > 0 ? "speech" : "", x[i * dim + 1]! > 0 ? "music" : ""].filter((
      l,
    ) => l);
    rows.push(
      `${i}.wav,${labels.join(";") || "silence"},${
        ["train", "train", "train", "valid", "test"][i % 5]
      }`,
    );
  }
  const set = parseLabeledCsv(rows.join("\n"), "/m/labels.csv");
  set.multiLabel = true;
  const out = await evaluateProbe(set, { x, n, dim, source: "toy" }, protocolConfig("reference"));
  assert.equal(out.task, "multi-label");
  assert.deepEqual(out.classes, ["music", "silence", "speech"]);
  const test = out.folds[0]!.test as { mAP: number; auc: number; dPrime: number };
  const C = out.classes.length;
  const scores = new Float32Array(out.predictions.length * C);
  const targets = new Float32Array(out.predictions.length * C);
  out.predictions.forEach((p, r) => {
    scores.set(p.scores, r * C);
    for (const l of set.items[p.item]!.labels) targets[r * C + out.classes.indexOf(l)] = 1;
    assert.ok(p.scores.every((v) => v > 0 && v < 1), "sigmoid scores");
  });
  const m = multiLabelMetrics(scores, targets, C);
  assert.deepEqual([test.mAP, test.auc, test.dPrime], [m.mAP, m.auc, m.dPrime]);
  assert.ok(test.mAP > 0.9, `a linear rule should be learned, mAP ${test.mAP}`);
  assert.equal(out.mean.mAP, test.mAP);
});
