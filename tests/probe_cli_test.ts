import assert from "node:assert/strict";
import { join } from "node:path";
import { writeNpy } from "../lib/io/npy.ts";
import { Rng } from "../lib/rng.ts";
import { pcm16Wav } from "./_helpers.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;

/** Runs `atst probe`; `plain` leaves out --backend cpu --quiet (as a user would type it). */
async function cli(
  args: string[],
  cwd: string,
  plain = false,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "probe", ...(plain ? [] : ["--backend", "cpu", "--quiet"]), ...args],
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/**
 * Writes a labeled set `labels.csv` (header + `rows`) and one 8-d embedding
 * per row under emb/ (class k clusters around 5 * e_k), returning the folder.
 */
async function makeSet(dir: string, rows: string[], header = "path,label,split"): Promise<void> {
  const rng = new Rng(rows.length);
  await Deno.writeTextFile(join(dir, "labels.csv"), [header, ...rows].join("\n") + "\n");
  for (const row of rows) {
    const [path, label] = row.split(",");
    const k = Number(label!.replace(/\D/g, "")) % 8;
    const v = Float32Array.from({ length: 8 }, (_, d) => (d === k ? 5 : 0) + rng.normal());
    await writeNpy(join(dir, "emb", `${path}.npy`), { shape: [8], data: v });
  }
}

function splitRows(n: number, classes: number): string[] {
  return Array.from(
    { length: n },
    (_, i) => `a/${i}.wav,c${i % classes},${["train", "train", "train", "valid", "test"][i % 5]}`,
  );
}

/** Files left in `dir` (recursively) other than the inputs: reports, predictions, temporaries. */
async function leftovers(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.name !== "labels.csv" && e.name !== "emb") out.push(e.name);
  }
  return out;
}

Deno.test("atst probe writes a JSON report and per-file predictions for a labeled CSV", async () => {
  const dir = await Deno.makeTempDir({ prefix: "probe_cli_" });
  try {
    await makeSet(dir, splitRows(100, 3));
    const r = await cli([
      "labels.csv",
      "--embeddings",
      "emb",
      "--report",
      "out/r.json",
      "--predictions",
      "p.csv",
      "--epochs",
      "30",
    ], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    const report = JSON.parse(await Deno.readTextFile(join(dir, "out/r.json")));
    assert.equal(report.protocol, "reference");
    assert.equal(report.metric, "accuracy");
    assert.deepEqual(report.classes, ["c0", "c1", "c2"]);
    assert.equal(report.folds.length, 1);
    assert.deepEqual(report.folds[0].counts, { train: 60, valid: 20, test: 20 });
    assert.equal(report.folds[0].epochsRun, 30);
    assert.equal(report.mean.accuracy, 1);
    assert.equal(report.embeddings.dim, 8);
    assert.ok(report.timing.totalSeconds > 0);
    const lines = (await Deno.readTextFile(join(dir, "p.csv"))).trim().split("\n");
    assert.equal(lines[0], "path,fold,label,predicted,score:c0,score:c1,score:c2");
    assert.equal(lines.length, 21);
    assert.ok(lines.slice(1).every((l) => l.split(",")[2] === l.split(",")[3]));
    assert.match(r.stderr, /accuracy 100\.00 \+- 0\.00 over 1 fold/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atst probe prints the report on stdout without --report, and --help shows examples", async () => {
  const dir = await Deno.makeTempDir({ prefix: "probe_cli_" });
  try {
    await makeSet(
      dir,
      Array.from({ length: 45 }, (_, i) => `f${i}.wav,c${i % 3},${1 + Math.floor(i / 15)}`),
      "path,label,fold",
    );
    const r = await cli([
      "labels.csv",
      "--embeddings",
      "emb",
      "--protocol",
      "evar",
      "--epochs",
      "5",
    ], dir);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.protocol, "evar");
    assert.deepEqual(report.folds.map((f: { fold: string }) => f.fold), ["1", "2", "3"]);
    assert.equal(typeof report.std.accuracy, "number");
    const help = await cli(["--help"], dir);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Examples:/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atst probe --model embeds the audio, caches it and names the model in the report", async () => {
  const dir = await Deno.makeTempDir({ prefix: "probe_cli_model_" });
  try {
    const rows = ["path,label,split"];
    for (let i = 0; i < 12; i++) {
      const f = i % 2 ? 700 : 250;
      const s = Float32Array.from(
        { length: 4000 },
        (_, t) => 0.4 * Math.sin((2 * Math.PI * f * t) / 16000) + 0.01 * (i + 1) * Math.sin(t),
      );
      await Deno.writeFile(join(dir, `${i}.wav`), pcm16Wav(s));
      rows.push(`${i}.wav,${i % 2 ? "high" : "low"},${["train", "train", "valid", "test"][i % 4]}`);
    }
    await Deno.writeTextFile(join(dir, "labels.csv"), rows.join("\n") + "\n");
    const model = new URL("../fixtures/model/b.safetensors", import.meta.url).pathname;
    const r = await cli(
      ["labels.csv", "--model", model, "--report", "r.json", "--epochs", "10"],
      dir,
    );
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(await Deno.readTextFile(join(dir, "r.json")));
    const sha = Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(model))),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    assert.equal(report.model.sha256, sha);
    assert.equal(report.embeddings.dim, 192);
    const [sub] = [...Deno.readDirSync(join(dir, ".atst-cache"))];
    assert.equal([...Deno.readDirSync(join(dir, ".atst-cache", sub!.name))].length, 12);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atst probe reads what atst embed writes (.npy folder and JSON Lines) with the same result", async () => {
  const dir = await Deno.makeTempDir({ prefix: "probe_cli_e2e_" });
  try {
    const rows = ["path,label,split"];
    await Deno.mkdir(join(dir, "audio"));
    for (let i = 0; i < 10; i++) {
      const f = i % 2 ? 900 : 300;
      const s = Float32Array.from(
        { length: 3200 },
        (_, t) => 0.3 * Math.sin((2 * Math.PI * f * t) / 16000) + 0.02 * Math.sin(0.1 * i * t),
      );
      await Deno.writeFile(join(dir, "audio", `${i}.wav`), pcm16Wav(s));
      rows.push(
        `audio/${i}.wav,${i % 2 ? "high" : "low"},${
          ["train", "train", "train", "valid", "test"][i % 5]
        }`,
      );
    }
    await Deno.writeTextFile(join(dir, "labels.csv"), rows.join("\n") + "\n");
    const model = new URL("../fixtures/model/b.safetensors", import.meta.url).pathname;
    const embed = async (args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "embed", "--model", model, "--backend", "cpu", "audio", ...args],
        cwd: dir,
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      return out.stdout;
    };
    await embed(["--out", "emb"]);
    await Deno.writeFile(join(dir, "emb.jsonl"), await embed(["--format", "jsonl"]));
    const reports = [];
    for (const source of ["emb", "emb.jsonl"]) {
      const r = await cli([
        "labels.csv",
        "--embeddings",
        source,
        "--epochs",
        "15",
        "--predictions",
        `${source}.pred.csv`,
      ], dir);
      assert.equal(r.code, 0, r.stderr);
      reports.push(JSON.parse(r.stdout));
    }
    const [a, b] = reports;
    assert.equal(a.embeddings.dim, 192);
    assert.equal(a.model.sha256, b.model.sha256);
    assert.match(a.model.sha256, /^[0-9a-f]{64}$/);
    assert.deepEqual(a.mean, b.mean);
    assert.deepEqual(
      await Deno.readTextFile(join(dir, "emb.pred.csv")),
      await Deno.readTextFile(join(dir, "emb.jsonl.pred.csv")),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("atst probe rejects bad input with one line, exit 2 and no report left behind", async (t) => {
  const cases: {
    name: string;
    rows: string[];
    header?: string;
    args?: string[];
    expect: RegExp;
    prep?: (dir: string) => Promise<void>;
  }[] = [
    {
      name: "an unknown path (no embedding for it)",
      rows: splitRows(20, 2),
      prep: (dir) => Deno.remove(join(dir, "emb/a/7.wav.npy")),
      expect: /No embedding for 'a\/7\.wav'/,
    },
    {
      name: "a test label absent from train",
      rows: [...splitRows(20, 2), "b/new.wav,c7,test"],
      expect: /label 'c7' of 'b\/new\.wav' is in test but not in train/,
    },
    { name: "a single class", rows: splitRows(20, 1), expect: /single class \('c0'\)/ },
    {
      name: "an empty test split",
      rows: splitRows(20, 2).filter((r) => !r.endsWith(",test")),
      expect: /test split is empty/,
    },
    {
      name: "mismatched embedding dimensions",
      rows: splitRows(20, 2),
      prep: (dir) =>
        writeNpy(join(dir, "emb/a/3.wav.npy"), { shape: [5], data: new Float32Array(5) }),
      expect: /has 5 values but .* has 8/,
    },
    {
      name: "neither --embeddings nor --model",
      rows: splitRows(20, 2),
      args: ["labels.csv", "--report", "r.json"],
      expect: /exactly one of --embeddings or --model/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const dir = await Deno.makeTempDir({ prefix: "probe_bad_" });
      try {
        await makeSet(dir, c.rows, c.header);
        await c.prep?.(dir);
        const r = await cli(
          c.args ??
            ["labels.csv", "--embeddings", "emb", "--report", "r.json", "--predictions", "p.csv"],
          dir,
          true,
        );
        assert.equal(r.code, 2, r.stderr);
        const lines = r.stderr.trim().split("\n");
        assert.equal(lines.length, 1, r.stderr);
        assert.match(lines[0]!, c.expect);
        assert.equal(r.stdout, "");
        assert.deepEqual(await leftovers(dir), []);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
  }
});
