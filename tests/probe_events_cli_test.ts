import assert from "node:assert/strict";
import { join } from "node:path";
import { exists } from "../lib/io/atomic.ts";
import { parseStrongLabels } from "../lib/probe/events/strong_labels.ts";
import { writeEventSet } from "../tools/event_set.ts";
import { maxAbsDiff, runCli } from "./_helpers.ts";

const MODEL = new URL("../fixtures/model/b.safetensors", import.meta.url).pathname;

Deno.test("atst probe finds the events of a generated strong-label set", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "probe_events_" });
  try {
    const tsv = await writeEventSet(dir, { files: 20, seconds: 4, seed: 3, folds: 0 });
    const report = join(dir, "r.json"), pred = join(dir, "p.tsv");
    await t.step(
      "log-mel frames, auto-detected from the header, default seeded split",
      async () => {
        const r = await runCli([
          "probe",
          tsv,
          "--embeddings",
          join(dir, "logmel"),
          "--report",
          report,
          "--predictions",
          pred,
          "--quiet",
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(
          r.stderr,
          /probe events: reference protocol, 3 classes, 64-d frames every 40 ms/,
        );
        const rep = JSON.parse(await Deno.readTextFile(report));
        assert.equal(rep.task, "events");
        assert.equal(rep.folds.length, 1);
        assert.equal(rep.postProcessing.medianFrames, 7);
        assert.equal(rep.postProcessing.threshold, 0.5);
        for (
          const k of ["segmentF1", "segmentER", "eventF1", "eventMacroF1", "onsetF1", "frameMAP"]
        ) {
          assert.ok(Number.isFinite(rep.mean[k]), k);
        }
        // Tones and bursts 8-25 dB above the noise: a linear read-out of log-mel finds most of them.
        assert.ok(rep.mean.segmentF1 > 0.6, `segment F1 ${rep.mean.segmentF1}`);
        assert.ok(rep.mean.frameMAP > 0.6, `frame mAP ${rep.mean.frameMAP}`);
        // The predictions are a DCASE TSV of exactly the test files.
        const back = parseStrongLabels(await Deno.readTextFile(pred), pred);
        assert.equal(back.files.length, rep.folds[0].counts.test);
      },
    );
    await t.step("--model embeds frames with the cache (times stored next to them)", async () => {
      const cache = join(dir, "cache");
      const r = await runCli([
        "probe",
        tsv,
        "--model",
        MODEL,
        "--cache",
        cache,
        "--epochs",
        "3",
        "--median-ms",
        "0",
        "--quiet",
      ]);
      assert.equal(r.code, 0, r.stderr);
      const rep = JSON.parse(r.stdout);
      assert.equal(rep.embeddings.dim, 32);
      assert.equal(rep.postProcessing.medianFrames, 1);
      assert.equal(rep.embeddings.frames, 20 * 100); // 4 s = 401 mel frames = 100 patches
      const [sub] = [...Deno.readDirSync(cache)];
      const names = [...Deno.readDirSync(join(cache, sub!.name))].map((e) => e.name);
      assert.equal(names.filter((n) => n.endsWith(".times.npy")).length, 20);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atst probe refuses bad strong labels with one line, exit 2 and nothing written", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "probe_events_bad_" });
  try {
    await writeEventSet(dir, { files: 6, seconds: 2, seed: 4, folds: 0 });
    const H = "filename\tonset\toffset\tevent_label\tsplit";
    const rows = ["audio/000.wav\t0.2\t0.9\tbeep\ttrain", "audio/001.wav\t0.1\t0.5\tburst\ttrain"];
    const rest = ["audio/002.wav\t\t\t\tvalid", "audio/003.wav\t0.3\t0.6\tbeep\ttest"];
    const cases: [string, string[], RegExp, string[]?][] = [
      [
        "onset >= offset",
        [...rows, "audio/002.wav\t1\t0.5\tbeep\tvalid", rest[1]!],
        /line 4: onset 1 is not before offset 0.5/,
      ],
      ["an event past the end of the file", [
        ...rows,
        rest[0]!,
        "audio/003.wav\t0.5\t9\tbeep\ttest",
      ], /line 5: event 'beep' of 'audio\/003.wav' ends at 9 s, after the end/],
      ["a test label absent from train", [
        ...rows,
        rest[0]!,
        "audio/003.wav\t0.3\t0.6\tchirp\ttest",
      ], /line 5: label 'chirp' of 'audio\/003.wav' is in test but not in train/],
      [
        "an unknown file (embeddings)",
        [...rows, rest[0]!, "audio/none.wav\t0.3\t0.6\tbeep\ttest"],
        /No embedding for 'audio\/none.wav'/,
      ],
      [
        "an unknown file (model)",
        [...rows, rest[0]!, "audio/none.wav\t0.3\t0.6\tbeep\ttest"],
        /Cannot read 'audio\/none.wav': no such file/,
        ["--model", MODEL, "--no-cache"],
      ],
    ];
    for (const [what, body, pattern, flags] of cases) {
      await t.step(what, async () => {
        const tsv = join(dir, "ev.tsv");
        await Deno.writeTextFile(tsv, [H, ...body].join("\n") + "\n");
        const out = join(dir, "out");
        const r = await runCli([
          "probe",
          tsv,
          ...(flags ?? ["--embeddings", join(dir, "logmel")]),
          "--report",
          join(out, "r.json"),
          "--predictions",
          join(out, "p.tsv"),
          "--quiet",
        ]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, pattern);
        assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
        assert.ok(!(await exists(out)), "nothing written");
      });
    }
    await t.step("event flags are refused for clip labels", async () => {
      const csv = join(dir, "clips.csv");
      await Deno.writeTextFile(csv, "path,label\naudio/000.wav,a\n");
      const r = await runCli(["probe", csv, "--embeddings", dir, "--threshold", "0.3"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--threshold applies to strong labels/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("frame embeddings from a checkpoint equal embed --frames, come back from the cache, and free their tensors", async () => {
  const { tf } = await import("../lib/backend/tf.ts");
  const { frameEmbeddingsWithModel, loadFrames, readFrameEmbeddings } = await import(
    "../lib/probe/events/frame_embeddings.ts"
  );
  type Table = Awaited<ReturnType<typeof readFrameEmbeddings>>;
  const loadAll = (t: Table) => Promise.all(t.files.map((f) => loadFrames(f, t.dim)));
  const dir = await Deno.makeTempDir({ prefix: "probe_events_frames_" });
  try {
    const tsv = await writeEventSet(dir, { files: 3, seconds: 2, seed: 5, folds: 0 });
    const set = parseStrongLabels(await Deno.readTextFile(tsv), tsv);
    const cache = join(dir, "cache");
    const before = tf.memory().numTensors;
    const first = await frameEmbeddingsWithModel(MODEL, set.files, { cache, quiet: true });
    assert.equal(tf.memory().numTensors, before, "no tensors left behind");
    const again = await frameEmbeddingsWithModel(MODEL, set.files, { cache, quiet: true });
    assert.deepEqual(again.files, first.files);
    const firstFrames = await loadAll(first);
    assert.deepEqual(await loadAll(again), firstFrames);
    assert.deepEqual([...firstFrames[0]!.timesMs.subarray(0, 3)], [15, 55, 95]);
    assert.ok(first.files.every((f) => f.dataPath.startsWith(cache)), "read from the cache");
    const r = await runCli([
      "embed",
      "--model",
      MODEL,
      "--frames",
      join(dir, "audio"),
      "--out",
      join(dir, "fr"),
    ]);
    assert.equal(r.code, 0, r.stderr);
    const read = await readFrameEmbeddings(join(dir, "fr"), set.files);
    // The CLI may pick another backend (native): equal within float32 round-off.
    (await loadAll(read)).forEach((f, i) => {
      assert.deepEqual(f.timesMs, firstFrames[i]!.timesMs);
      assert.ok(maxAbsDiff(f.data, firstFrames[i]!.data) < 1e-4);
    });
    assert.equal(read.modelSha256, first.modelSha256);
    // Without a cache the frames go to a temporary folder that close() removes.
    const temp = await frameEmbeddingsWithModel(MODEL, set.files, { cache: null, quiet: true });
    assert.deepEqual(
      (await loadAll(temp)).map((f) => f.timesMs),
      firstFrames.map((f) => f.timesMs),
    );
    assert.ok(await exists(temp.files[0]!.dataPath));
    await temp.close();
    assert.ok(!(await exists(temp.files[0]!.dataPath)), "temporary frames removed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
