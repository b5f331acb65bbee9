import assert from "node:assert/strict";
import { join } from "node:path";
import { loadEncoder } from "../lib/model/checkpoint.ts";
import { embedFiles, type EmbedInput, type EmbedResult } from "../lib/embed/embed_files.ts";
import { fixture, floatWav } from "./_helpers.ts";
import { audio } from "./_model_inputs.ts";

Deno.test("embeddings read ahead in workers are those read in turn, bit for bit", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "atst_read_ahead_" });
  const model = await loadEncoder(fixture("model", "b.safetensors"));
  try {
    const files: EmbedInput[] = [];
    for (let i = 0; i < 9; i++) {
      const path = join(dir, `f${i}.wav`);
      await Deno.writeFile(path, floatWav(audio(0.2 + i * 0.15, i)));
      files.push({ path, rel: `f${i}.wav` });
    }
    await Deno.writeTextFile(join(dir, "broken.wav"), "not audio");
    files.splice(4, 0, { path: join(dir, "broken.wav"), rel: "broken.wav" });
    const run = async (readAhead: number) => {
      const got: EmbedResult[] = [];
      const counts = await embedFiles(model, files, { batch: 3, readAhead }, (r) => {
        got.push(r);
      });
      return { got, counts };
    };
    const inTurn = await run(0);
    for (const mode of [1, 2]) {
      await t.step(`${mode} worker(s)`, async () => {
        const ahead = await run(mode);
        assert.deepEqual(ahead.counts, { ok: 9, failed: 1 });
        assert.deepEqual(ahead.counts, inTurn.counts);
        ahead.got.forEach((r, i) => {
          const want = inTurn.got[i]!;
          assert.equal(r.file, files[i]);
          if ("error" in want) assert.ok("error" in r && r.error.message === want.error.message);
          else {
            assert.ok("clip" in r && "clip" in want);
            assert.deepEqual(r.clip, want.clip, files[i]!.rel);
            assert.equal(r.seconds, want.seconds);
          }
        });
      });
    }
  } finally {
    model.encoder.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
