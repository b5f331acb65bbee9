import assert from "node:assert/strict";
import { join } from "node:path";
import { tf } from "../lib/backend/tf.ts";
import { UserError } from "../lib/errors.ts";
import {
  encoderTensors,
  type HostTensor,
  loadEncoder,
  readSafetensors,
  saveEncoder,
  writeSafetensors,
} from "../lib/model/checkpoint.ts";
import { embedClips } from "../lib/embed/pooling.ts";
import { fixture, maxAbsDiff, relErr } from "./_helpers.ts";
import { signal } from "./_model_inputs.ts";

const B = fixture("model", "b.safetensors");
const A = fixture("model", "a.ckpt");

/** Rewrites b.safetensors through `edit` into a temp file; returns its path. */
async function variant(
  dir: string,
  edit: (t: Map<string, HostTensor>, meta: Record<string, string>) => void,
  dtype?: "F16" | "BF16" | "F64",
): Promise<string> {
  const st = readSafetensors(await Deno.readFile(B));
  const tensors = new Map([...st.tensors].map(([k, v]) => [k, { shape: v.shape, data: v.data }]));
  edit(tensors, st.metadata);
  const path = join(dir, `v${crypto.randomUUID().slice(0, 6)}.safetensors`);
  await Deno.writeFile(path, writeSafetensors(tensors, st.metadata, { dtype }));
  return path;
}

/** Asserts loadEncoder(path) fails with a one-line UserError (exit 2) matching `re`. */
async function assertRejects(path: string, re: RegExp): Promise<void> {
  try {
    const { encoder } = await loadEncoder(path);
    encoder.dispose();
  } catch (err) {
    assert.ok(err instanceof UserError, `expected a UserError, got ${err}`);
    assert.equal(err.exitCode, 2);
    assert.ok(!err.message.includes("\n"), "one line");
    assert.match(err.message, re);
    return;
  }
  assert.fail(`'${path}' loaded, expected ${re}`);
}

Deno.test("saveEncoder then loadEncoder round-trips weights and metadata exactly", async () => {
  const dir = await Deno.makeTempDir();
  const { encoder, meta } = await loadEncoder(B);
  assert.equal(meta.source, "atst");
  assert.equal(meta.trainCropSeconds, 6);
  assert.deepEqual([meta.encoder.dim, meta.encoder.depth, meta.encoder.heads], [32, 3, 2]);
  const path = join(dir, "m.safetensors");
  await saveEncoder(path, encoder, { trainCropSeconds: 9, extra: { note: "x" } });
  const back = await loadEncoder(path);
  assert.deepEqual(back.meta.encoder, meta.encoder);
  assert.equal(back.meta.trainCropSeconds, 9);
  assert.equal(back.meta.extra.note, "x");
  const bytes = await Deno.readFile(path);
  const sha = [...new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))]
    .map((b) => b.toString(16).padStart(2, "0")).join("");
  assert.equal(back.meta.sha256, sha);
  const a = await encoderTensors(encoder), b = await encoderTensors(back.encoder);
  for (const [k, t] of a) assert.deepEqual(b.get(k), t, k);
  // The file holds the reference names in PyTorch layout, loadable as a state_dict.
  const st = readSafetensors(bytes);
  assert.deepEqual(st.tensors.get("blocks.2.mlp.fc1.weight")!.shape, [128, 32]);
  assert.equal(st.tensors.get("blocks.2.mlp.fc1.weight")!.dtype, "F32");
  assert.equal(st.metadata.format, "pt");
  encoder.dispose();
  back.encoder.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a Lightning .ckpt converted to our format gives identical embeddings", async () => {
  const dir = await Deno.makeTempDir();
  const ckpt = await loadEncoder(A);
  const path = join(dir, "a.safetensors");
  await saveEncoder(path, ckpt.encoder, { trainCropSeconds: ckpt.meta.trainCropSeconds });
  const ours = await loadEncoder(path);
  assert.equal(ours.meta.trainCropSeconds, 4);
  const clips = [1201, 530].map((w, j) => ({ data: signal(w, j + 1), nMels: 64, frames: w }));
  const opts = { chunkFrames: 401, blocks: 12, pool: "both" as const };
  const e1 = await embedClips(ckpt.encoder, clips, opts);
  const e2 = await embedClips(ours.encoder, clips, opts);
  for (let i = 0; i < clips.length; i++) assert.deepEqual(e2[i], e1[i]);
  ckpt.encoder.dispose();
  ours.encoder.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("float16, bfloat16 and float64 checkpoints are converted to float32", async () => {
  const dir = await Deno.makeTempDir();
  const ref = await loadEncoder(B);
  const want = await encoderTensors(ref.encoder);
  for (const [dtype, tol] of [["F64", 0], ["F16", 1e-3], ["BF16", 8e-3]] as const) {
    const { encoder } = await loadEncoder(await variant(dir, () => {}, dtype));
    for (const [k, t] of await encoderTensors(encoder)) {
      const err = relErr(t.data, want.get(k)!.data);
      assert.ok(err <= tol, `${dtype} ${k}: relative error ${err} above ${tol}`);
    }
    encoder.dispose();
  }
  ref.encoder.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a training checkpoint with prefixed names loads its teacher encoder", async () => {
  const dir = await Deno.makeTempDir();
  const ref = await loadEncoder(B);
  const path = await variant(dir, (t) => {
    const orig = new Map(t);
    t.clear();
    for (const [k, v] of orig) {
      t.set(`student.encoder.${k}`, { shape: v.shape, data: new Float32Array(v.data.length) });
      t.set(`teacher.encoder.${k}`, v);
    }
    t.set("student.projector.0.weight", { shape: [4, 32], data: new Float32Array(128) });
  });
  const { encoder } = await loadEncoder(path);
  const x = tf.tensor3d(signal(40, 1), [1, 64, 40]);
  const y1 = encoder.forward(x, [40]), y2 = ref.encoder.forward(x, [40]);
  assert.equal(maxAbsDiff(y1.dataSync(), y2.dataSync()), 0);
  tf.dispose([x, y1, y2]);
  encoder.dispose();
  ref.encoder.dispose();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("corrupt or mismatched checkpoints fail with one clear line (exit 2)", async (t) => {
  const dir = await Deno.makeTempDir();
  await t.step(
    "missing file",
    () => assertRejects(join(dir, "nope.ckpt"), /Cannot read checkpoint .*no such file/),
  );
  await t.step("not a checkpoint", async () => {
    const p = join(dir, "x.ckpt");
    await Deno.writeTextFile(p, "hello, this is text");
    await assertRejects(
      p,
      /is neither an atst \.safetensors nor a PyTorch \.ckpt\/\.pth \(unrecognised contents\)/,
    );
  });
  await t.step("truncated", async () => {
    const p = join(dir, "cut.safetensors");
    const bytes = await Deno.readFile(B);
    await Deno.writeFile(p, bytes.subarray(0, bytes.length - 100));
    await assertRejects(p, /is a damaged safetensors file: .*truncated/);
  });
  await t.step("missing tensor", async () => {
    const p = await variant(dir, (t) => t.delete("blocks.2.mlp.fc2.bias"));
    await assertRejects(p, /lacks tensor 'blocks\.2\.mlp\.fc2\.bias' \(expected shape \[32\]\)/);
  });
  await t.step("wrong shape", async () => {
    const p = await variant(
      dir,
      (t) => t.set("pos_embed", { shape: [1, 250, 32], data: new Float32Array(8000) }),
    );
    await assertRejects(p, /tensor 'pos_embed' of shape \[1,250,32\], expected \[1,251,32\]/);
  });
  await t.step("unexpected tensor", async () => {
    const p = await variant(
      dir,
      (t) => t.set("blocks.0.attn.qkv.bias", { shape: [96], data: new Float32Array(96) }),
    );
    await assertRejects(p, /unexpected tensor 'blocks\.0\.attn\.qkv\.bias'/);
  });
  await t.step("non-finite weight", async () => {
    const p = await variant(dir, (t) => t.get("norm.weight")!.data.fill(NaN, 0, 1));
    await assertRejects(p, /non-finite value in tensor 'norm\.weight'/);
  });
  await t.step("config that contradicts the shapes", async () => {
    const p = await variant(dir, (_t, meta) => {
      meta.encoder = meta.encoder!.replace('"depth":3', '"depth":4').replace(
        '"depth": 3',
        '"depth": 4',
      );
    });
    await assertRejects(p, /lacks tensor 'blocks\.3\.norm1\.weight'/);
  });
  await t.step("integer dtype", async () => {
    const header = JSON.stringify({ w: { dtype: "I64", shape: [1], data_offsets: [0, 8] } });
    const bytes = new Uint8Array(8 + header.length + 8);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(new TextEncoder().encode(header), 8);
    const p = join(dir, "int.safetensors");
    await Deno.writeFile(p, bytes);
    await assertRejects(p, /dtype I64; only F32, F16, BF16 and F64/);
  });
  await Deno.remove(dir, { recursive: true });
});
