/**
 * End-to-end test of `deno task demo`: a shortened run (`--quick`) on the
 * real demo data (the Debian Asterisk prompt packages, installed by
 * .ci/run), checking that every stage wrote its files and the report parses.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { APT_COMMAND, DEFAULT_DATA_ROOT, LANGUAGES } from "../lib/demo/data.ts";
import { decodePng } from "../lib/demo/png.ts";
import { parseReport } from "../lib/demo/report.ts";
import { readLabeledSet } from "../lib/probe/labeled_set.ts";
import { readStrongLabels } from "../lib/probe/events/strong_labels.ts";
import { decodeBytes } from "../lib/audio/decode.ts";
import { activityFigureSize } from "../lib/demo/activity.ts";
import { readEventProbe } from "../lib/demo/events_step.ts";

const DEMO = fileURLToPath(new URL("../tools/demo.ts", import.meta.url));

async function walk(dir: string, ext: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) out.push(...(await walk(p, ext)));
    else if (e.name.endsWith(ext)) out.push(p);
  }
  return out;
}

Deno.test("the quick demo runs every stage, writes its files and a report that parses", async (t) => {
  try {
    await Deno.stat(join(DEFAULT_DATA_ROOT, LANGUAGES[0]!.folder));
  } catch {
    throw new Error(`The demo data is not installed; run '${APT_COMMAND}' (as .ci/run does)`);
  }
  const out = await Deno.makeTempDir({ prefix: "atst-demo-" });
  try {
    const res = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", DEMO, "--quick", "--out", out],
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const stdout = new TextDecoder().decode(res.stdout);
    const stderr = new TextDecoder().decode(res.stderr);
    assert.equal(res.code, 0, `demo failed:\n${stderr.slice(-3000)}`);

    const report = parseReport(await Deno.readTextFile(join(out, "report.json")));

    await t.step("every stage ran and its outputs exist", async () => {
      const names = report.stages.map((s) => s.name);
      assert.deepEqual(names, [
        "data",
        "featurize",
        "pretrain",
        "random-init",
        "baseline",
        "embed-random",
        "embed-pretrained",
        "probe-baseline",
        "probe-random",
        "probe-pretrained",
        "plots",
        "events-mix",
        "events-embed",
        "events-probe",
        "events-plot",
      ]);
      for (const s of report.stages) {
        for (const o of s.outputs) {
          const info = await Deno.stat(join(out, o));
          assert.ok(info.isDirectory || info.size > 0, `${s.name}: ${o} is empty`);
        }
      }
    });

    await t.step("the labeled set is balanced over languages and folds", async () => {
      const set = await readLabeledSet(join(out, "data", "labels.csv"));
      assert.equal(set.items.length, LANGUAGES.length * report.data.labeledPerClass);
      assert.ok(set.hasFold);
      for (const lang of LANGUAGES) {
        const mine = set.items.filter((i) => i.labels[0] === lang.label);
        assert.equal(mine.length, report.data.labeledPerClass, lang.label);
        assert.equal(new Set(mine.map((i) => i.fold)).size, report.data.folds, lang.label);
      }
    });

    await t.step("featurize, pretrain and embed wrote real outputs", async () => {
      assert.ok((await walk(join(out, "features"), "")).length > 0, "no features written");
      assert.equal(report.pretrain.runs.length, report.seeds.length);
      for (const run of report.pretrain.runs) {
        const log = (await Deno.readTextFile(join(out, run.run, "log.jsonl"))).trim().split("\n");
        assert.equal(log.length, report.pretrain.steps);
        const last = JSON.parse(log.at(-1)!) as { std_student: number };
        assert.equal(run.lastStdStudent, last.std_student, `seed ${run.seed}`);
      }
      const clips = LANGUAGES.length * report.data.labeledPerClass;
      const npys = await walk(join(out, "embeddings", "baseline"), ".npy");
      assert.equal(npys.length, clips, "baseline");
      for (const key of ["random", "pretrained"]) {
        for (const seed of report.seeds) {
          const npys = await walk(join(out, "embeddings", key, `seed-${seed}`), ".npy");
          assert.equal(npys.length, clips, `${key} seed ${seed}`);
        }
      }
      assert.equal(report.results[0]!.dim, 128);
      assert.equal(report.results[1]!.dim, report.results[2]!.dim);
    });

    await t.step("every method is measured once per seed, and the gain per seed is paired", () => {
      assert.deepEqual(report.seeds, [1, 2]);
      for (const r of report.results) {
        assert.deepEqual(r.seeds.map((s) => s.seed), report.seeds, r.key);
        const means = r.seeds.map((s) => s.mean);
        const mean = means.reduce((a, b) => a + b, 0) / means.length;
        assert.ok(Math.abs(r.mean - mean) < 1e-12, `${r.key}: mean over seeds`);
      }
      const [, random, pretrained] = report.results;
      report.gain.perSeed.forEach((g, i) => {
        assert.ok(Math.abs(g - (pretrained!.seeds[i]!.mean - random!.seeds[i]!.mean)) < 1e-12);
      });
      const commands = report.stages.find((s) => s.name === "pretrain")!.commands!;
      assert.equal(commands.length, report.seeds.length);
      report.seeds.forEach((seed, i) =>
        assert.match(commands[i]!, new RegExp(`--seed ${seed}\\b`))
      );
    });

    await t.step(
      "the event step wrote mixtures, their strong labels, frames and probe reports",
      async () => {
        const ev = report.events;
        const set = await readStrongLabels(join(out, ev.tsv));
        assert.deepEqual(set.classes, ["speech"]);
        assert.ok(set.hasFold);
        assert.equal(set.files.length, ev.files);
        assert.equal(set.files.reduce((n, f) => n + f.events.length, 0), ev.events);
        assert.equal(new Set(set.files.map((f) => f.fold)).size, ev.folds);
        for (const f of set.files) {
          const d = await decodeBytes(await Deno.readFile(f.resolved));
          assert.equal(d.channels[0]!.length / d.sampleRate, ev.seconds, f.path);
          assert.ok(f.events.length > 0, `${f.path} has speech`);
        }
        for (const key of ["logmel", "pretrained"]) {
          const npys = await walk(join(out, "embeddings", "events", key), ".npy");
          assert.equal(npys.filter((p) => !p.endsWith(".times.npy")).length, ev.files, key);
        }
        // 64 mel bins; the tiny encoder's width (one block's frames, as `embed --frames` gives).
        assert.equal(report.pretrain.size, "tiny");
        assert.deepEqual(ev.results.map((r) => r.dim), [64, 192]);
        for (const r of ev.results) {
          assert.deepEqual(await readEventProbe(join(out, r.report)), {
            dim: r.dim,
            mean: r.mean,
            std: r.std,
          });
          // Every mixture is a test file of one fold, so every one is listed in the predictions.
          const pred = await Deno.readTextFile(join(out, r.predictions));
          const named = new Set(pred.trim().split("\n").slice(1).map((l) => l.split("\t")[0]));
          assert.deepEqual([...named].sort(), set.files.map((f) => f.path).sort(), r.key);
        }
        const sed = decodePng(await Deno.readFile(join(out, report.plots.sed)));
        assert.deepEqual(
          { width: sed.width, height: sed.height },
          activityFigureSize(ev.shown.map(() => 4)),
        );
        assert.equal(ev.shown.length, 2);
      },
    );

    await t.step("the plots are PNG images", async () => {
      for (const p of [report.plots.loss, ...report.plots.pca, report.plots.sed]) {
        const png = decodePng(await Deno.readFile(join(out, p)));
        assert.ok(png.width >= 320 && png.height >= 240, `${p}: ${png.width}x${png.height}`);
      }
      assert.equal(report.plots.pca.length, 3);
      const loss = decodePng(await Deno.readFile(join(out, report.plots.loss)));
      assert.ok(loss.height >= 2 * 320, `loss.png has two panels: ${loss.width}x${loss.height}`);
    });

    await t.step("stdout has the table and the plot paths", () => {
      const rows = stdout.split("\n").filter((l) => /^\| \([abc]\)/.test(l));
      assert.equal(rows.length, 3, stdout);
      for (const r of report.results) {
        assert.match(stdout, new RegExp(`${(100 * r.mean).toFixed(1)} ±`));
      }
      assert.match(stdout, /accuracy % \(mean ± std over 2 seeds\)/);
      assert.match(
        stdout,
        /Pre-trained minus random weights, per seed: [-+]\d+\.\d [-+]\d+\.\d points/,
      );
      assert.match(stdout, new RegExp(`Loss curve: .*${report.plots.loss}`));
      assert.equal((stdout.match(/PCA plot: /g) ?? []).length, 3);
      for (const r of report.events.results) {
        const row = stdout.split("\n").find((l) => l.startsWith(`| ${r.name} `));
        assert.ok(row, `no events row for ${r.name}:\n${stdout}`);
        assert.match(row, new RegExp(`\\| ${(100 * r.mean.eventF1).toFixed(1)} ± `));
      }
      assert.match(stdout, new RegExp(`Speech: +.*${report.plots.sed}`));
    });
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
