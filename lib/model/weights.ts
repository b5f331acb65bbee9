/**
 * Encoder weights as host tensors under the reference names (PyTorch
 * shapes): what an encoder of a config holds, building an Encoder from such
 * tensors with exact complaints, and inferring the config from shapes.
 *
 * @module
 */
import { tf } from "../backend/tf.ts";
import { UserError } from "../errors.ts";
import {
  type EncoderConfig,
  encoderConfig,
  type EncoderFamily,
  sizeName,
  validateConfig,
} from "./config.ts";
import { Encoder, type EncoderOptions, isLinearWeight, REFERENCE_NAMES } from "./encoder.ts";
import type { HostTensor } from "./safetensors.ts";

/** The final norm's name in a family's state_dict. */
function finalNorm(family: EncoderFamily): string {
  return family === "clip" ? REFERENCE_NAMES.norm : REFERENCE_NAMES.normFrame;
}

/** The tensors an encoder of `cfg` has, with their PyTorch shapes. */
export function expectedShapes(cfg: EncoderConfig): Map<string, number[]> {
  const D = cfg.dim, H = cfg.dim * cfg.mlpRatio;
  const m = new Map<string, number[]>([
    ["patch_embed.patch_embed.weight", [D, cfg.nMels * cfg.patchFrames]],
    ["patch_embed.patch_embed.bias", [D]],
    ...(cfg.family === "frame" ? [] : [["cls_token", [1, 1, D]] as [string, number[]]]),
    ["pos_embed", [1, cfg.maxPatches + 1, D]],
    ["mask_embed", [1, 1, D]],
  ]);
  for (let i = 0; i < cfg.depth; i++) {
    const b = `blocks.${i}`;
    for (const n of ["norm1", "norm2"]) {
      m.set(`${b}.${n}.weight`, [D]);
      m.set(`${b}.${n}.bias`, [D]);
    }
    m.set(`${b}.attn.qkv.weight`, [3 * D, D]);
    m.set(`${b}.attn.proj.weight`, [D, D]);
    m.set(`${b}.attn.proj.bias`, [D]);
    m.set(`${b}.mlp.fc1.weight`, [H, D]);
    m.set(`${b}.mlp.fc1.bias`, [H]);
    m.set(`${b}.mlp.fc2.weight`, [D, H]);
    m.set(`${b}.mlp.fc2.bias`, [D]);
  }
  const norm = finalNorm(cfg.family);
  m.set(`${norm}.weight`, [D]);
  m.set(`${norm}.bias`, [D]);
  return m;
}

/** The encoder's weights as host tensors under the reference names, in PyTorch layout. */
export async function encoderTensors(encoder: Encoder): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  for (const [name, v] of encoder.params()) {
    // Asynchronous read: WebGPU in Deno cannot read GPU buffers synchronously.
    const t = { shape: v.shape.slice(), data: (await v.data()) as Float32Array };
    out.set(name, isLinearWeight(name) ? transpose2d(t) : t);
  }
  return out;
}

/** [r, c] -> [c, r] on the host. */
function transpose2d(t: HostTensor): HostTensor {
  const [r, c] = t.shape as [number, number];
  const data = new Float32Array(r * c);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < c; j++) data[j * r + i] = t.data[i * c + j]!;
  }
  return { shape: [c, r], data };
}

/**
 * Makes an Encoder of `cfg` holding `tensors` (reference names, PyTorch
 * shapes). Missing, unexpected or misshapen tensors go to `fail`.
 */
export function buildEncoder(
  cfg: EncoderConfig,
  tensors: Map<string, HostTensor>,
  opts: EncoderOptions = {},
  fail: (why: string) => never = (why) => {
    throw new UserError(`Checkpoint ${why}`);
  },
): Encoder {
  const want = expectedShapes(cfg);
  for (const [name, shape] of want) {
    const t = tensors.get(name);
    if (!t) fail(`lacks tensor '${name}' (expected shape [${shape}])`);
    else if (t.shape.join() !== shape.join()) {
      fail(`has tensor '${name}' of shape [${t.shape}], expected [${shape}]`);
    }
  }
  for (const name of tensors.keys()) {
    if (!want.has(name)) {
      fail(`has an unexpected tensor '${name}' for a ${cfg.size} ATST-${familyTitle(cfg)} encoder`);
    }
  }
  for (const [name, t] of tensors) {
    for (let i = 0; i < t.data.length; i++) {
      if (!Number.isFinite(t.data[i]!)) fail(`has a non-finite value in tensor '${name}'`);
    }
  }
  const encoder = new Encoder(cfg, { randomInit: false, ...opts });
  for (const [name, v] of encoder.params()) {
    const src = tensors.get(name)!;
    const t = isLinearWeight(name) ? transpose2d(src) : src;
    tf.tidy(() => v.assign(tf.tensor(t.data, t.shape, "float32")));
  }
  return encoder;
}

function familyTitle(cfg: EncoderConfig): string {
  return cfg.family === "frame" ? "Frame" : "Clip";
}

/**
 * The family the keys show (REFERENCE.md §8.4): `cls_token` and `norm`
 * for ATST-Clip, `norm_frame` without `cls_token` for ATST-Frame. A mix of
 * both, or neither final norm, goes to `fail` naming the tensor.
 */
export function inferFamily(
  tensors: Map<string, HostTensor>,
  fail: (why: string) => never,
): EncoderFamily {
  const has = (k: string) => tensors.has(k);
  const frame = has("norm_frame.weight"), clip = has("norm.weight");
  if (frame && clip) {
    return fail("holds both 'norm.weight' (ATST-Clip) and 'norm_frame.weight' (ATST-Frame)");
  }
  if (frame) {
    if (has("cls_token")) {
      return fail("has tensor 'cls_token', which an ATST-Frame encoder (norm_frame) has not");
    }
    return "frame";
  }
  if (clip) {
    if (!has("cls_token")) {
      return fail("lacks tensor 'cls_token' of an ATST-Clip encoder (it has 'norm.weight')");
    }
    return "clip";
  }
  return fail("lacks tensor 'norm.weight' (ATST-Clip) or 'norm_frame.weight' (ATST-Frame)");
}

/**
 * Infers the family, dim, depth and heads from the tensor names and shapes. Heads do not show in
 * any shape: a known `arch` with a matching width decides, else the
 * reference's head width of 64 (all its sizes use it).
 */
export function inferConfig(
  tensors: Map<string, HostTensor>,
  hints: { arch?: string },
  fail: (why: string) => never,
): EncoderConfig {
  const pos = tensors.get("pos_embed");
  const patch = tensors.get("patch_embed.patch_embed.weight");
  if (!pos || pos.shape.length !== 3 || !patch || patch.shape.length !== 2) {
    return fail("does not hold an ATST encoder (no pos_embed / patch_embed.patch_embed.weight)");
  }
  const dim = pos.shape[2]!;
  let depth = 0;
  while (tensors.has(`blocks.${depth}.norm1.weight`)) depth++;
  if (depth === 0) return fail("holds an encoder without blocks");
  const family = inferFamily(tensors, fail);
  const fc1 = tensors.get("blocks.0.mlp.fc1.weight");
  const mlpRatio = fc1 ? fc1.shape[0]! / dim : 4;
  const archSizes: Record<string, number> = { small: 384, ast: 384, base: 768, tiny: 192 };
  const headsOf: Record<number, number> = { 384: 6, 768: 12, 192: 3 };
  let heads: number;
  if (hints.arch !== undefined && archSizes[hints.arch] === dim) heads = headsOf[dim]!;
  else if (dim % 64 === 0) heads = dim / 64;
  else {return fail(
      `has width ${dim}, which is not a multiple of 64: cannot tell the number of heads`,
    );}
  const cfg: EncoderConfig = {
    ...encoderConfig("tiny"),
    family,
    size: "custom",
    dim,
    depth,
    heads,
    mlpRatio,
    nMels: patch.shape[1]! / 4,
    maxPatches: pos.shape[1]! - 1,
  };
  cfg.size = sizeName(cfg);
  try {
    validateConfig(cfg);
  } catch (err) {
    return fail(`has an inconsistent shape: ${(err as Error).message}`);
  }
  return cfg;
}
