import assert from "node:assert/strict";
import {
  accuracy,
  averagePrecision,
  dPrime,
  multiLabelMetrics,
  normalQuantile,
  rocAuc,
} from "../lib/probe/metrics.ts";

const golden = JSON.parse(
  Deno.readTextFileSync(new URL("../fixtures/probe/metrics.json", import.meta.url)),
) as {
  n: number;
  classes: number;
  targets: number[];
  scores: number[];
  ap: number[];
  mAP: number;
  auc: number[];
  meanAuc: number;
  dPrime: number;
  ppf: { p: number[]; x: number[] };
  accuracy: number;
};

function close(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected} (tol ${tol})`);
}

Deno.test("accuracy counts rows whose argmax is the target", () => {
  // rows: [0.9, 0.1] -> 0 (target 0, right), [0.2, 0.8] -> 1 (target 0, wrong), [0.5, 0.5] -> 0 (tie: first index)
  const scores = [0.9, 0.1, 0.2, 0.8, 0.5, 0.5];
  assert.equal(accuracy(scores, [0, 0, 0], 2), 2 / 3);
  assert.equal(accuracy(scores, [0, 1, 1], 2), 2 / 3);
});

Deno.test("macro mAP of a small multi-label case equals the value worked out by hand", () => {
  // Two classes, five clips; scores [N, C] row-major.
  const a = [0.9, 0.8, 0.7, 0.6, 0.5]; // class A, positives at ranks 1 and 3
  const ya = [1, 0, 1, 0, 0];
  const b = [0.2, 0.9, 0.4, 0.8, 0.1]; // class B, ranked: 0.9(+) 0.8 0.4 0.2 0.1(+)
  const yb = [0, 1, 0, 0, 1];
  // AP = mean over positives of the precision at its rank:
  // A: (1/1 + 2/3) / 2 = 5/6;  B: (1/1 + 2/5) / 2 = 0.7;  mAP = (5/6 + 0.7) / 2.
  const handA = (1 / 1 + 2 / 3) / 2;
  const handB = (1 / 1 + 2 / 5) / 2;
  const scores = a.flatMap((v, i) => [v, b[i]!]);
  const targets = ya.flatMap((v, i) => [v, yb[i]!]);
  const m = multiLabelMetrics(scores, targets, 2);
  close(m.ap[0]!, handA, 1e-12, "AP of class A");
  close(m.ap[1]!, handB, 1e-12, "AP of class B");
  close(m.mAP, (handA + handB) / 2, 1e-12, "mAP");
  assert.equal(m.classesScored, 2);
});

Deno.test("tied scores form one threshold in average precision", () => {
  // Threshold 0.5 admits two clips (one positive): recall 1/2, precision 1/2.
  // Threshold 0.1 admits all three: recall 1, precision 2/3. AP = 1/2 * 1/2 + 1/2 * 2/3.
  close(averagePrecision([0.5, 0.5, 0.1], [1, 0, 1]), 0.25 + 1 / 3, 1e-12, "AP with a tie");
  // ROC AUC: positive 0.5 vs negative 0.5 is a tie (1/2), positive 0.1 loses: (1/2 + 0) / 2.
  close(rocAuc([0.5, 0.5, 0.1], [1, 0, 1]), 0.25, 1e-12, "AUC with a tie");
});

Deno.test("metrics agree with scikit-learn and scipy on the committed fixture", async (t) => {
  const { n, classes, targets, scores } = golden;
  assert.equal(targets.length, n * classes);
  const m = multiLabelMetrics(scores, targets, classes);
  await t.step("per-class average_precision_score", () => {
    golden.ap.forEach((ap, c) => close(m.ap[c]!, ap, 1e-9, `AP of class ${c}`));
  });
  await t.step("macro mAP", () => close(m.mAP, golden.mAP, 1e-9, "mAP"));
  await t.step("per-class roc_auc_score and their mean", () => {
    golden.auc.forEach((auc, c) => {
      const col = Array.from({ length: n }, (_, i) => scores[i * classes + c]!);
      const pos = Array.from({ length: n }, (_, i) => targets[i * classes + c]!);
      close(rocAuc(col, pos), auc, 1e-9, `AUC of class ${c}`);
    });
    close(m.auc, golden.meanAuc, 1e-9, "mean AUC");
  });
  await t.step("d-prime = sqrt(2) * norm.ppf(AUC)", () => {
    close(m.dPrime, golden.dPrime, 1e-7, "d-prime");
    close(dPrime(golden.meanAuc), golden.dPrime, 1e-7, "dPrime()");
  });
  await t.step("normalQuantile matches scipy.stats.norm.ppf in both tails and the centre", () => {
    golden.ppf.p.forEach((p, k) => {
      const x = golden.ppf.x[k]!;
      close(normalQuantile(p), x, 1e-8 * Math.max(1, Math.abs(x)), `ppf(${p})`);
    });
  });
  await t.step("accuracy_score of the argmax", () => {
    const argmaxTargets = Array.from({ length: n }, (_, i) => {
      let best = 0;
      for (let c = 1; c < classes; c++) {
        if (targets[i * classes + c]! > targets[i * classes + best]!) best = c;
      }
      return best;
    });
    close(accuracy(scores, argmaxTargets, classes), golden.accuracy, 1e-12, "accuracy");
  });
});

Deno.test("a class without positives is left out of the mAP average", () => {
  // Class 0: AP 1 (its positive ranks first); class 1 has no positives.
  const m = multiLabelMetrics([0.9, 0.1, 0.2, 0.3], [1, 0, 0, 0], 2);
  assert.ok(Number.isNaN(m.ap[1]!));
  assert.equal(m.classesScored, 1);
  assert.equal(m.mAP, 1);
});
