import assert from "node:assert/strict";
import { UserError } from "../lib/errors.ts";
import {
  eventsTsv,
  isStrongLabelHeader,
  parseStrongLabels,
} from "../lib/probe/events/strong_labels.ts";
import {
  checkEventsInside,
  frameBoundaries,
  frameTargets,
} from "../lib/probe/events/frame_targets.ts";
import {
  decodeEvents,
  medianFilterBinary,
  medianFramesFor,
} from "../lib/probe/events/post_processing.ts";

const H = "filename\tonset\toffset\tevent_label";
const rejects = (text: string, pattern: RegExp) =>
  assert.throws(
    () => parseStrongLabels(text, "ev.tsv"),
    (e) => e instanceof UserError && pattern.test(e.message),
  );

Deno.test("strong labels read the DCASE layout and refuse bad rows naming the line", async (t) => {
  await t.step("events per file, a file without events, folds", () => {
    const set = parseStrongLabels(
      `${H}\tfold\na.wav\t1.5\t2\tdog\nb.wav\t\t\t\t2\na.wav\t0.25\t1\tcat\t1\n`.replace(
        "dog\n",
        "dog\t1\n",
      ),
      "/data/ev.tsv",
    );
    assert.deepEqual(set.classes, ["cat", "dog"]);
    assert.equal(set.files.length, 2);
    assert.deepEqual(set.files[0]!.events.map((e) => [e.label, e.line]), [["cat", 4], ["dog", 2]]);
    assert.equal(set.files[0]!.resolved, "/data/a.wav");
    assert.deepEqual(set.files[1]!.events, []);
    assert.equal(set.files[1]!.fold, "2");
  });
  await t.step("--audio DIR anchors the filenames", () => {
    const set = parseStrongLabels(`${H}\na.wav\t0\t1\tx\n`, "/t/ev.tsv", { audioDir: "/audio" });
    assert.equal(set.files[0]!.resolved, "/audio/a.wav");
  });
  await t.step("the header is recognised, with or without extra columns", () => {
    assert.ok(isStrongLabelHeader(`${H}\n`));
    assert.ok(isStrongLabelHeader(`\uFEFFfilename\tevent_label\tonset\toffset\tsplit\r\n`));
    assert.ok(!isStrongLabelHeader("path,label\n"));
  });
  await t.step("bad rows", () => {
    rejects(`${H}\na.wav\t2\t2\tdog\n`, /line 2: onset 2 is not before offset 2 in 'a.wav'/);
    rejects(`${H}\na.wav\t0\t1\tdog\na.wav\t-1\t1\tdog\n`, /line 3: onset -1 .* before 0 s/);
    rejects(`${H}\na.wav\tx\t1\tdog\n`, /line 2: onset 'x' and offset '1' must be numbers/);
    rejects(`${H}\na.wav\t0\t1\t\n`, /line 2: 'a.wav' has an event without a label/);
    rejects(
      `${H}\tsplit\na.wav\t0\t1\td\ttrain\na.wav\t2\t3\td\ttest\n`,
      /line 3: 'a.wav' is in split test here but train above/,
    );
    rejects("filename,onset\n", /header 'filename onset offset event_label'/);
    rejects(`${H}\na.wav\t\t\t\n`, /have no events/);
  });
  await t.step("the writer's TSV reads back to the same events", () => {
    const text = eventsTsv([
      { path: "a.wav", events: [{ label: "dog", onset: 0.0351, offset: 1.2 }] },
      { path: "b.wav", events: [] },
    ]);
    assert.equal(text, `${H}\na.wav\t0.035\t1.2\tdog\nb.wav\t\t\t\n`);
    const back = parseStrongLabels(text, "p.tsv");
    assert.deepEqual(back.files.map((f) => f.events.length), [1, 0]);
  });
  await t.step("with folds, every row carries its file's fold, a file without events too", () => {
    const text = eventsTsv([
      { path: "a.wav", events: [{ label: "dog", onset: 0, offset: 1 }], fold: 1 },
      { path: "b.wav", events: [], fold: 2 },
    ]);
    assert.equal(text, `${H}\tfold\na.wav\t0\t1\tdog\t1\nb.wav\t\t\t\t2\n`);
    const back = parseStrongLabels(text, "p.tsv");
    assert.deepEqual(back.files.map((f) => [f.path, f.events.length, f.fold]), [
      ["a.wav", 1, "1"],
      ["b.wav", 0, "2"],
    ]);
  });
});

Deno.test("frame targets mark frames whose centre lies inside an event", async (t) => {
  const centres = Float64Array.of(15, 55, 95, 135); // the embed frame times, 40 ms apart
  await t.step("onset included, offset excluded", () => {
    const y = frameTargets([{ label: "a", onset: 0.055, offset: 0.095 }], centres, ["a", "b"]);
    assert.deepEqual([...y], [0, 0, 1, 0, 0, 0, 0, 0]);
  });
  await t.step("frame boundaries lie halfway between centres, the first clamped at 0", () => {
    assert.deepEqual([...frameBoundaries(centres)].map((v) => +v.toFixed(6)), [
      0,
      0.035,
      0.075,
      0.115,
      0.155,
    ]);
  });
  await t.step("an event past the end of the audio is refused, naming its row", () => {
    const files = [{
      path: "a.wav",
      resolved: "/a.wav",
      line: 2,
      events: [{ label: "a", onset: 0, offset: 0.3, line: 7 }],
    }];
    assert.throws(
      () => checkEventsInside("ev.tsv", files, [centres]),
      /ev.tsv' line 7: event 'a' of 'a.wav' ends at 0.3 s, after the end of the audio/,
    );
    checkEventsInside("ev.tsv", [{
      ...files[0]!,
      events: [{ label: "a", onset: 0, offset: 0.19, line: 7 }],
    }], [centres]);
  });
});

Deno.test("decoding thresholds, median-filters and turns runs into events", async (t) => {
  await t.step("280 ms at 40 ms frames is a 7-frame filter; even lengths round up to odd", () => {
    assert.equal(medianFramesFor(280, 40), 7);
    assert.equal(medianFramesFor(160, 40), 5);
    assert.equal(medianFramesFor(0, 40), 1);
  });
  await t.step("the median filter removes short gaps and blips and keeps edges (reflect)", () => {
    assert.deepEqual(
      [...medianFilterBinary(Uint8Array.of(1, 1, 1, 0, 1, 1, 0, 0, 0, 1, 0, 0), 3)],
      [
        1,
        1,
        1,
        1,
        1,
        1,
        0,
        0,
        0,
        0,
        0,
        0,
      ],
    );
    // With zero padding the leading pair would vanish; reflect sees 1 1 | 1 1 0 and keeps it.
    assert.deepEqual([...medianFilterBinary(Uint8Array.of(1, 1, 0, 0, 0, 0, 0), 5)], [
      1,
      1,
      0,
      0,
      0,
      0,
      0,
    ]);
  });
  await t.step("two classes, a threshold met exactly, events between frame boundaries", () => {
    const t = Float64Array.of(15, 55, 95, 135, 175);
    // class x: frames 1-2 at or above 0.5; class y: frame 4 only.
    const probs = Float32Array.of(0.1, 0, 0.5, 0, 0.9, 0, 0.4, 0.2, 0, 0.7);
    const events = decodeEvents(probs, t, ["x", "y"], { threshold: 0.5, medianFrames: 1 });
    assert.deepEqual(events.map((e) => [e.label, +e.onset.toFixed(6), +e.offset.toFixed(6)]), [
      ["x", 0.035, 0.115],
      ["y", 0.155, 0.195],
    ]);
    const smoothed = decodeEvents(probs, t, ["x", "y"], { threshold: 0.5, medianFrames: 3 });
    assert.deepEqual(smoothed.map((e) => e.label), ["x", "y"]);
  });
});
