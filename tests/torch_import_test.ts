import assert from "node:assert/strict";
import { join } from "node:path";
import { zipSync } from "fflate";
import { UserError } from "../lib/errors.ts";
import { encoderTensors, loadEncoder } from "../lib/model/checkpoint.ts";
import { importTorchCheckpoint } from "../lib/model/torch_import.ts";
import { fixture } from "./_helpers.ts";

const A = fixture("model", "a.ckpt");
const PLAIN = fixture("model", "a_plain.pth");

Deno.test("a Lightning .ckpt yields the teacher encoder and train_len", async () => {
  const imp = importTorchCheckpoint(await Deno.readFile(A));
  assert.equal(imp.source, "lightning");
  assert.equal(imp.trainCropSeconds, 4);
  assert.equal(imp.arch, "custom");
  // Only encoder weights: no projector, predictor or student keys.
  assert.equal(imp.tensors.size, 5 + 2 * 11 + 2);
  assert.ok(
    [...imp.tensors.keys()].every((k) => !k.includes("projector") && !k.startsWith("model.")),
  );
  const { encoder, meta } = await loadEncoder(A);
  assert.deepEqual([meta.encoder.dim, meta.encoder.depth, meta.encoder.heads], [64, 2, 1]);
  assert.equal(meta.source, "lightning");
  assert.equal(meta.trainCropSeconds, 4);
  encoder.dispose();
});

Deno.test("the plain form with module.backbone. prefixes gives the same weights", async () => {
  const lightning = importTorchCheckpoint(await Deno.readFile(A));
  const plain = importTorchCheckpoint(await Deno.readFile(PLAIN));
  assert.equal(plain.source, "plain");
  assert.equal(plain.trainCropSeconds, 4); // args.anchor_len[0]
  assert.equal(plain.arch, "ast");
  assert.deepEqual([...plain.tensors.keys()].sort(), [...lightning.tensors.keys()].sort());
  // blocks.1.attn.qkv.weight is stored transposed (non-contiguous) in the .ckpt only.
  for (const [k, t] of lightning.tensors) assert.deepEqual(plain.tensors.get(k), t, k);
  const a = await loadEncoder(PLAIN);
  const b = await loadEncoder(A);
  const ta = await encoderTensors(a.encoder), tb = await encoderTensors(b.encoder);
  for (const [k, t] of ta) assert.deepEqual(tb.get(k), t, k);
  a.encoder.dispose();
  b.encoder.dispose();
});

Deno.test("torch zips that hold no ATST encoder are rejected with a reason", async (t) => {
  const dir = await Deno.makeTempDir();
  const write = async (name: string, files: Record<string, Uint8Array>) => {
    const p = join(dir, name);
    await Deno.writeFile(p, zipSync(files, { level: 0 }));
    return p;
  };
  const expectFail = async (path: string, re: RegExp) => {
    await assert.rejects(loadEncoder(path), (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.equal(err.exitCode, 2);
      assert.match(err.message, re);
      return true;
    });
  };
  await t.step("a zip without data.pkl", async () => {
    await expectFail(
      await write("a.ckpt", { "x/readme.txt": new TextEncoder().encode("hi") }),
      /has no data\.pkl/,
    );
  });
  await t.step("a broken pickle", async () => {
    await expectFail(
      await write("b.ckpt", { "b/data.pkl": new Uint8Array([0x80, 2, 0x7d, 0x71, 0]) }),
      /cannot unpickle data\.pkl/,
    );
  });
  await t.step("a pickled dict without weights", async () => {
    // protocol 2: {"epoch": 3}
    const pkl = new Uint8Array([
      0x80,
      2,
      0x7d,
      0x71,
      0,
      0x58,
      5,
      0,
      0,
      0,
      ...new TextEncoder().encode("epoch"),
      0x71,
      1,
      0x4b,
      3,
      0x73,
      0x2e,
    ]);
    await expectFail(
      await write("c.ckpt", { "c/data.pkl": pkl }),
      /found no encoder weights \(top-level keys: epoch\)/,
    );
  });
  await t.step("a storage missing from the zip", async () => {
    const { unzipSync } = await import("fflate");
    const files = unzipSync(await Deno.readFile(A));
    const victim = Object.keys(files).find((n) =>
      /\/data\/\d+$/.test(n) && files[n]!.length === 256 * 64 * 4
    )!;
    delete files[victim];
    await expectFail(await write("d.ckpt", files), /is missing from the zip/);
  });
  await Deno.remove(dir, { recursive: true });
});
