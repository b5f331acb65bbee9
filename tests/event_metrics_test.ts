import assert from "node:assert/strict";
import { fixture } from "./_helpers.ts";
import { multiLabelMetrics } from "../lib/probe/metrics.ts";
import {
  DCASE_EVENT_RULES,
  eventMetrics,
  eventRoll,
  type FilePair,
  ONSET_ONLY_RULES,
  segmentMetrics,
} from "../lib/probe/events/sed_metrics.ts";
import type { SoundEvent } from "../lib/probe/events/strong_labels.ts";

const ev = (label: string, onset: number, offset: number): SoundEvent => ({ label, onset, offset });
const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} != ${b}`);

Deno.test("segment-based metrics count overlapping events per 1 s segment as sed_eval does", async (t) => {
  // ref A 0-2.5 -> segments 0,1,2; ref B 1.2-3 -> 1,2; est A 0.5-1.8 -> 0,1; est B 2.1-4 -> 2,3.
  // seg0: ref{A} sys{A}: tp 1. seg1: ref{A,B} sys{A}: tp 1, D 1. seg2: ref{A,B} sys{B}: tp 1, D 1.
  // seg3: ref{} sys{B}: I 1. Nref 5, Nsys 4, Ntp 3: P 3/4, R 3/5, F 2/3; ER (0 + 2 + 1) / 5 = 0.6.
  const overlap: FilePair = {
    reference: [ev("A", 0, 2.5), ev("B", 1.2, 3)],
    estimated: [ev("A", 0.5, 1.8), ev("B", 2.1, 4)],
  };
  await t.step("overlapping events in one file", () => {
    const m = segmentMetrics([overlap], ["A", "B"]);
    assert.deepEqual([m.nRef, m.nSys, m.nTp], [5, 4, 3]);
    close(m.precision, 3 / 4, "precision");
    close(m.recall, 3 / 5, "recall");
    close(m.f1, 2 / 3, "F1");
    close(m.errorRate, 0.6, "ER");
    close(m.deletionRate, 0.4, "D");
    close(m.insertionRate, 0.2, "I");
  });
  await t.step("a wrong label in the same segment is one substitution, not D + I", () => {
    // A second file: ref A 0-1, est B 0-1 -> seg0 r 1, y 1, tp 0: S 1.
    // Totals: Nref 6, Nsys 5, Ntp 3, S 1, D 2, I 1 -> ER 4/6, F 2*3/(6+5) = 6/11.
    const m = segmentMetrics(
      [overlap, { reference: [ev("A", 0, 1)], estimated: [ev("B", 0, 1)] }],
      [
        "A",
        "B",
      ],
    );
    close(m.substitutionRate, 1 / 6, "S");
    close(m.errorRate, 4 / 6, "ER");
    close(m.f1, 6 / 11, "F1");
  });
  await t.step("an empty file adds nothing; a file with only false alarms adds insertions", () => {
    const empty: FilePair = { reference: [], estimated: [] };
    assert.deepEqual(
      segmentMetrics([overlap, empty], ["A", "B"]),
      segmentMetrics([overlap], ["A", "B"]),
    );
    // est A 0-0.5 in a silent file: seg0 I 1 -> ER (3 + 1) / 5 = 0.8, Nsys 5 -> F 2*3/(5+5) = 0.6.
    const m = segmentMetrics([overlap, { reference: [], estimated: [ev("A", 0, 0.5)] }], [
      "A",
      "B",
    ]);
    close(m.errorRate, 0.8, "ER");
    close(m.f1, 0.6, "F1");
    const none = segmentMetrics([empty], ["A"]);
    assert.deepEqual([none.f1, none.errorRate], [0, 0]);
  });
  await t.step(
    "an event ending exactly on a segment boundary does not reach the next segment",
    () => {
      assert.deepEqual([...eventRoll([ev("A", 1, 2)], ["A"], 1, 3)], [0, 1, 0]);
      assert.deepEqual([...eventRoll([ev("A", 0.999, 2.001)], ["A"], 1)], [1, 1, 1]);
    },
  );
});

Deno.test("event-based F1 applies the collars at their boundaries", async (t) => {
  const ref = [ev("a", 1.0, 3.0)]; // length 2 s: offset collar max(0.2, 0.2 * 2) = 0.4 s
  const f1 = (est: SoundEvent[], rules = DCASE_EVENT_RULES) =>
    eventMetrics([{ reference: ref, estimated: est }], rules).f1;
  await t.step("onset 200 ms late and offset 400 ms late still match", () => {
    assert.equal(f1([ev("a", 1.2, 3.4)]), 1);
  });
  await t.step("onset 250 ms late does not", () => assert.equal(f1([ev("a", 1.25, 3.0)]), 0));
  await t.step("offset 500 ms late fails onset-offset but passes onset-only", () => {
    assert.equal(f1([ev("a", 1.0, 3.5)]), 0);
    assert.equal(f1([ev("a", 1.0, 3.5)], ONSET_ONLY_RULES), 1);
  });
  await t.step("a short event keeps the 200 ms minimum offset collar", () => {
    // ref 1.0-1.5: 20 % of 0.5 s is 0.1 s, so the collar is 0.2 s; 1.75 is 0.25 s late.
    const m = eventMetrics([{ reference: [ev("a", 1.0, 1.5)], estimated: [ev("a", 1.0, 1.7)] }]);
    assert.equal(m.f1, 1);
    const late = eventMetrics([{
      reference: [ev("a", 1.0, 1.5)],
      estimated: [ev("a", 1.0, 1.75)],
    }]);
    assert.equal(late.f1, 0);
  });
  await t.step("the wrong label never matches", () => assert.equal(f1([ev("b", 1.0, 3.0)]), 0));
  await t.step(
    "matching is a maximum one: each event matches once, greedy order does not lose pairs",
    () => {
      // r1 1.0-2.0 matches e1 (1.15-2.15) and e2 (1.0-2.0); r2 1.3-2.3 matches only e1.
      // Greedy (r1 takes e1 first) finds 1 pair; the maximum matching r1-e2, r2-e1 finds 2.
      const m = eventMetrics([{
        reference: [ev("a", 1.0, 2.0), ev("a", 1.3, 2.3)],
        estimated: [ev("a", 1.15, 2.15), ev("a", 1.0, 2.0)],
      }]);
      assert.equal(m.perClass.a!.nTp, 2);
      assert.equal(m.f1, 1);
      const twice = eventMetrics([{
        reference: [ev("a", 1, 2)],
        estimated: [ev("a", 1, 2), ev("a", 1.05, 2)],
      }]);
      assert.deepEqual([twice.precision, twice.recall], [0.5, 1]);
    },
  );
});

Deno.test("micro and macro event F1 differ as worked out by hand, with empty files and absent classes", async (t) => {
  // a: ref 0-1, est 0-1 (tp). b: ref 2-3, no estimate (fn). Class c occurs nowhere.
  // micro: Ntp 1, Nsys 1, Nref 2 -> P 1, R 1/2, F 2/3. macro over {a, b}: (1 + 0) / 2 = 1/2.
  const pairs: FilePair[] = [
    { reference: [ev("a", 0, 1), ev("b", 2, 3)], estimated: [ev("a", 0, 1)] },
    { reference: [], estimated: [] },
  ];
  await t.step("a class absent from references and estimates is left out of the macro mean", () => {
    const m = eventMetrics(pairs);
    close(m.f1, 2 / 3, "micro");
    close(m.macroF1, 1 / 2, "macro");
    assert.deepEqual(Object.keys(m.perClass), ["a", "b"]);
  });
  await t.step("a class only predicted (false alarms) counts as F1 0 in the macro mean", () => {
    const m = eventMetrics([...pairs, { reference: [], estimated: [ev("c", 5, 6)] }]);
    close(m.macroF1, 1 / 3, "macro");
    close(m.f1, 2 * 1 / (2 + 2), "micro: P 1/2, R 1/2");
  });
  await t.step("no events at all gives F1 0, not NaN", () => {
    const m = eventMetrics([{ reference: [], estimated: [] }]);
    assert.deepEqual([m.f1, m.macroF1], [0, 0]);
  });
});

interface SklearnFixture {
  classes: string[];
  files: {
    reference: SoundEvent[];
    estimated: SoundEvent[];
    segments: number;
    ref_roll: number[];
    est_roll: number[];
  }[];
  segment: { f1_micro: number; precision_micro: number; recall_micro: number };
  frames: { scores: number[]; targets: number[]; mAP_macro: number };
}

Deno.test("segment F1 and frame mAP agree with scikit-learn on the same binary matrices", async (t) => {
  const fx: SklearnFixture = JSON.parse(await Deno.readTextFile(fixture("events", "sklearn.json")));
  await t.step("segment rolls equal the generator's", () => {
    for (const f of fx.files) {
      const n = Math.ceil(Math.max(0, ...[...f.reference, ...f.estimated].map((e) => e.offset)));
      assert.equal(n, f.segments);
      assert.deepEqual([...eventRoll(f.reference, fx.classes, 1, n)], f.ref_roll);
      assert.deepEqual([...eventRoll(f.estimated, fx.classes, 1, n)], f.est_roll);
    }
  });
  await t.step("micro F1, precision and recall equal sklearn's", () => {
    const m = segmentMetrics(fx.files, fx.classes);
    close(m.f1, fx.segment.f1_micro, "F1");
    close(m.precision, fx.segment.precision_micro, "precision");
    close(m.recall, fx.segment.recall_micro, "recall");
  });
  await t.step("frame mAP equals sklearn's average_precision_score (macro)", () => {
    const m = multiLabelMetrics(
      Float32Array.from(fx.frames.scores),
      Float32Array.from(fx.frames.targets),
      fx.classes.length,
    );
    // Scores pass through float32 here; ties rounded to 0.1 stay ties.
    assert.ok(Math.abs(m.mAP - fx.frames.mAP_macro) < 1e-6, `${m.mAP} vs ${fx.frames.mAP_macro}`);
  });
});
