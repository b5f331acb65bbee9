import assert from "node:assert/strict";
import { join } from "node:path";
import { readSafetensors } from "../lib/model/safetensors.ts";
import { fixture, ROOT } from "./_train_golden.ts";
import { killAfterStep, readRunLog, writeTrainList } from "./_pretrain_runs.ts";
import { embedWithModel } from "../lib/probe/model_embeddings.ts";
import { parseLabeledCsv } from "../lib/probe/labeled_set.ts";

const dec = new TextDecoder();

function cli(args: string[], stdin: "null" | "piped" = "null"): Deno.Command {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}main.ts`, "pretrain", ...args],
    cwd: ROOT,
    stdin,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  });
}

/** Runs the CLI with `input` on its stdin. */
async function runWithStdin(args: string[], input: string) {
  const child = cli(args, "piped").spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close();
  const out = await child.output();
  return { code: out.code, stderr: dec.decode(out.stderr) };
}

async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await cli(args).output();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Asserts that every tensor of the safetensors file `a` is in `b` with the same bits;
 * returns `a`'s tensors.
 */
async function assertSameTensors(a: string, b: string) {
  const ta = readSafetensors(await Deno.readFile(a)).tensors;
  const tb = readSafetensors(await Deno.readFile(b)).tensors;
  for (const [k, v] of ta) assert.deepEqual(tb.get(k)?.data, v.data, k);
  return ta;
}

/** A small but complete run: tiny encoder of 1 block, 0.3 s crops, narrow heads. */
function smallRun(list: string, runDir: string, steps: number): string[] {
  return [
    ...["--data", `@${list}`, "--run", runDir, "--size", "tiny", "--depth", "1"],
    ...["--steps", String(steps), "--batch", "2", "--crop-seconds", "0.3", "--lr", "1e-3"],
    ...["--warmup", "2", "--seed", "7", "--save-every", "2", "--keep", "2", "--backend", "cpu"],
    ...["--head-hidden", "32", "--head-dim", "16", "--mixup-memory", "8", "--quiet"],
  ];
}

Deno.test("pretrain --help shows the flags and examples", async () => {
  const r = await runCli(["--help"]);
  assert.equal(r.code, 0);
  for (
    const s of ["--data", "--run", "--size", "--steps", "--batch", "--save-every", "Examples:"]
  ) {
    assert.ok(r.stdout.includes(s), s);
  }
});

Deno.test("pretrain without --data or --run is a usage error (exit 2)", async () => {
  const a = await runCli(["--run", "x"]);
  assert.equal(a.code, 2);
  assert.match(a.stderr, /Missing --data/);
  const b = await runCli(["--data", "x"]);
  assert.equal(b.code, 2);
  assert.match(b.stderr, /Missing --run/);
});

Deno.test("a run killed with SIGKILL and rerun ends with the same weights as an uninterrupted one", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "atst_pretrain_" });
  const steps = 6;
  try {
    const list = await writeTrainList(dir);
    const whole = join(dir, "whole"), killed = join(dir, "killed");
    await t.step("the uninterrupted run finishes, skipping unreadable files", async () => {
      const r = await runCli(smallRun(list, whole, steps));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /skipping '.*text.wav'/);
      assert.match(r.stderr, /4 clips decoded into .*, 1 skipped/);
      const index = JSON.parse(await Deno.readTextFile(join(whole, "cache", "index.json")));
      assert.equal(index.skipped.length, 1);
      assert.equal(index.clips.length, 4);
      const cfg = JSON.parse(await Deno.readTextFile(join(whole, "config.json")));
      assert.equal(cfg.steps, steps);
      const ckpts = [...Deno.readDirSync(whole)].map((e) => e.name).filter((n) =>
        n.startsWith("ckpt-")
      ).sort();
      assert.deepEqual(
        ckpts,
        ["ckpt-00000004.safetensors", "ckpt-00000006.safetensors"],
        "the last 2 kept",
      );
    });
    let killedAt = 0;
    await t.step("the second run is killed between checkpoints", async () => {
      const child = cli(smallRun(list, killed, steps)).spawn();
      killedAt = await killAfterStep(child, join(killed, "log.jsonl"), 3);
      assert.ok(killedAt >= 3 && killedAt < steps, `killed after step ${killedAt}`);
      assert.equal(await Deno.stat(join(killed, "encoder.safetensors")).catch(() => null), null);
    });
    await t.step("rerunning the same command resumes and matches bit for bit", async () => {
      const r = await runCli(smallRun(list, killed, steps));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /resuming .* from step [24] of 6/);
      assert.match(r.stderr, /read from/, "the decoded cache is reused");
      const enc = "encoder.safetensors", ckpt = "ckpt-00000006.safetensors";
      const a = await assertSameTensors(join(whole, enc), join(killed, enc));
      assert.ok(a.size > 10);
      await assertSameTensors(join(whole, ckpt), join(killed, ckpt));
      const la = await readRunLog(join(whole, "log.jsonl"));
      const lb = await readRunLog(join(killed, "log.jsonl"));
      assert.deepEqual(lb.map((l) => l.step), [1, 2, 3, 4, 5, 6], "one log line per step");
      assert.deepEqual(lb.map((l) => l.loss), la.map((l) => l.loss));
    });
    await t.step(
      "the same files on stdin, views made in turn, train the same weights",
      async () => {
        const piped = join(dir, "piped");
        const args = smallRun(list, piped, steps);
        args[args.indexOf(`@${list}`)] = "-";
        const paths = await Deno.readTextFile(list);
        const r = await runWithStdin([...args, "--prefetch", "0", "--jobs", "1"], paths);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /4 clips decoded into .*, 1 skipped/);
        const enc = "encoder.safetensors";
        await assertSameTensors(join(whole, enc), join(piped, enc));
      },
    );
    await t.step("a rerun with other settings is refused", async () => {
      const r = await runCli(smallRun(list, killed, steps).map((a) => (a === "7" ? "8" : a)));
      assert.equal(r.code, 2);
      assert.match(r.stderr, /other settings \(seed\)/);
    });
    /** The run's flags with `flag`'s value replaced. */
    const changed = (flag: string, value: string) => {
      const args = smallRun(list, killed, steps);
      args[args.indexOf(flag) + 1] = value;
      return args;
    };
    await t.step("a rerun with another --ema or mixup memory is refused, naming each", async () => {
      const ema = await runCli([...smallRun(list, killed, steps), "--ema", "0.95"]);
      assert.equal(ema.code, 2, ema.stderr);
      assert.match(ema.stderr, /other settings \(ema\)/);
      const memory = await runCli(changed("--mixup-memory", "4"));
      assert.equal(memory.code, 2, memory.stderr);
      assert.match(memory.stderr, /other settings \(mixupMemory\)/);
      const both = await runCli([...changed("--mixup-memory", "4"), "--ema", "0.95"]);
      assert.equal(both.code, 2, both.stderr);
      assert.match(both.stderr, /other settings \(ema, mixupMemory\)/);
      assert.equal(both.stderr.trim().split("\n").length, 1, "one line");
    });
    await t.step("a rerun with another --save-every is accepted", async () => {
      const r = await runCli(changed("--save-every", "3"));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /resuming .* from step 6 of 6/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pretrain --family frame: killed with SIGKILL and rerun, the same weights; its encoder embeds", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "atst_pretrain_frame_" });
  const steps = 6;
  try {
    const list = await writeTrainList(dir);
    const whole = join(dir, "whole"), killed = join(dir, "killed");
    const frameRun = (runDir: string) => [...smallRun(list, runDir, steps), "--family", "frame"];
    await t.step(
      "the uninterrupted run finishes with the frame recipe in config.json",
      async () => {
        const r = await runCli(frameRun(whole));
        assert.equal(r.code, 0, r.stderr);
        const cfg = JSON.parse(await Deno.readTextFile(join(whole, "config.json")));
        assert.equal(cfg.encoder.family, "frame");
        assert.deepEqual(cfg.mask, { ratio: 0.65, span: 5, minSpans: 2 });
        assert.deepEqual(cfg.ema, [0.997, 1], "the frame family's default --ema");
        const lines = await readRunLog(join(whole, "log.jsonl"));
        assert.deepEqual(lines.map((l) => l.step), [1, 2, 3, 4, 5, 6]);
        assert.ok(
          lines.every((l) => l.std_student! > 0 && l.std_teacher! > 0),
          "frame std monitors",
        );
      },
    );
    await t.step("a run killed between checkpoints resumes and matches bit for bit", async () => {
      const child = cli(frameRun(killed)).spawn();
      const killedAt = await killAfterStep(child, join(killed, "log.jsonl"), 3);
      assert.ok(killedAt >= 3 && killedAt < steps, `killed after step ${killedAt}`);
      const r = await runCli(frameRun(killed));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /resuming .* from step [24] of 6/);
      const enc = "encoder.safetensors";
      const a = await assertSameTensors(join(whole, enc), join(killed, enc));
      assert.ok(a.has("norm_frame.weight") && !a.has("cls_token"));
    });
    await t.step("a rerun as the clip family is refused", async () => {
      const r = await runCli(smallRun(list, killed, steps));
      assert.equal(r.code, 2);
      assert.match(r.stderr, /other settings \(encoder, .*mask\)/);
    });
    await t.step("embed --frames and the scene embedding load the trained encoder", async () => {
      const model = join(whole, "encoder.safetensors");
      const wav = fixture("audio", "mono_8k.wav");
      for (const extra of [[], ["--frames", "--blocks", "1"]]) {
        const cmd = new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "-A",
            `${ROOT}main.ts`,
            "embed",
            "--model",
            model,
            wav,
            ...extra,
            "--quiet",
          ],
          stdout: "piped",
          stderr: "piped",
        });
        const out = await cmd.output();
        assert.equal(out.code, 0, dec.decode(out.stderr));
        const recs = dec.decode(out.stdout).trim().split("\n").map((l) => JSON.parse(l));
        assert.equal(recs.length, 2, "header and one record");
        // Scene: 12 blocks clipped to the depth of 1, times D 192; frames: D per token.
        const width = extra.length ? recs[1].embedding[0].length : recs[1].embedding.length;
        assert.equal(width, 192, JSON.stringify(extra));
      }
      // probe --model embeds with the same loader (the scene embedding).
      const csv = join(dir, "labels.csv");
      await Deno.writeTextFile(csv, `path,label,split\n${wav},x,train\n`);
      const set = parseLabeledCsv(await Deno.readTextFile(csv), csv);
      const table = await embedWithModel(model, set.items, { cache: null, quiet: true });
      assert.equal(table.dim, 192);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
