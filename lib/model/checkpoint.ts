/**
 * Encoder checkpoints. Our format is safetensors (see safetensors.ts) with
 * the tensors under the reference's names in PyTorch layout, so
 * `safetensors.torch.load_file(path)` gives a state_dict the reference
 * `AST` module loads; `__metadata__` holds the resolved encoder config, the
 * mel config and the pre-training crop length as JSON strings.
 *
 * `loadEncoder` also reads the authors' PyTorch files (torch_import.ts).
 *
 * @module
 */
import { UserError } from "../errors.ts";
import { writeFileAtomic } from "../io/atomic.ts";
import { DEFAULT_MEL, type MelConfig } from "../features/mel.ts";
import { type EncoderConfig, parseConfig } from "./config.ts";
import type { Encoder, EncoderOptions } from "./encoder.ts";
import { type HostTensor, readSafetensors, writeSafetensors } from "./safetensors.ts";
import { buildEncoder, encoderTensors, inferConfig } from "./weights.ts";
import { importTorchCheckpoint, isZip } from "./torch_import.ts";
import denoJson from "../../deno.json" with { type: "json" };

export { type HostTensor, readSafetensors, writeSafetensors } from "./safetensors.ts";
export { buildEncoder, encoderTensors, expectedShapes, inferConfig } from "./weights.ts";

/** What a loaded model carries besides its weights. */
export interface ModelMeta {
  encoder: EncoderConfig;
  mel: MelConfig;
  /** Pre-training crop length in seconds; sets the embedding chunk length (REFERENCE.md §4.1). */
  trainCropSeconds: number;
  /** sha256 of the checkpoint file, hex. */
  sha256: string;
  /**
   * How it was read: "atst" (ours), or the authors' torch files: "lightning"
   * (pre-training), "finetuned", "finetuned-c2f", "plain" or "state_dict".
   */
  source: string;
  /** Other string metadata found in the file. */
  extra: Record<string, string>;
}

/** Pre-training crop length when a checkpoint does not say (the reference's default). */
export const DEFAULT_TRAIN_CROP_SECONDS = 6.0;

/**
 * Writes `encoder` to `path` in our format (atomically).
 *
 * @example
 * ```ts
 * await saveEncoder("model.safetensors", enc, { trainCropSeconds: 6 });
 * ```
 */
export async function saveEncoder(
  path: string,
  encoder: Encoder,
  meta: { mel?: MelConfig; trainCropSeconds?: number; extra?: Record<string, string> } = {},
): Promise<void> {
  const bytes = writeSafetensors(await encoderTensors(encoder), encoderMetadata(encoder.cfg, meta));
  await writeFileAtomic(path, bytes);
}

/** The `__metadata__` our checkpoints carry (also for trainers writing their own files). */
export function encoderMetadata(
  cfg: EncoderConfig,
  meta: { mel?: MelConfig; trainCropSeconds?: number; extra?: Record<string, string> } = {},
): Record<string, string> {
  return {
    ...meta.extra,
    format: "pt",
    producer: `atst ${denoJson.version}`,
    encoder: JSON.stringify(cfg),
    mel: JSON.stringify(meta.mel ?? DEFAULT_MEL),
    trainCropSeconds: String(meta.trainCropSeconds ?? DEFAULT_TRAIN_CROP_SECONDS),
  };
}

/**
 * Loads an encoder of either family from our .safetensors, or from the
 * authors' torch files: Lightning pre-training `.ckpt` (teacher encoder),
 * fine-tuned `.ckpt` (`encoder.encoder.*`, ATST-C2F's
 * `encoder.encoder.frame_encoder.*`) or the plain form; the family and size
 * come from the keys and shapes (REFERENCE.md §8.4). Any problem is a
 * UserError (exit 2) naming the file and what is wrong, e.g. the missing or
 * misshapen tensor.
 */
export async function loadEncoder(
  path: string,
  opts: EncoderOptions = {},
): Promise<{ encoder: Encoder; meta: ModelMeta }> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (err) {
    const why = err instanceof Deno.errors.NotFound ? "no such file" : (err as Error).message;
    throw new UserError(`Cannot read checkpoint '${path}': ${why}`);
  }
  const sha256 = await sha256Hex(bytes);
  const fail = (why: string): never => {
    throw new UserError(`Checkpoint '${path}' ${why}`);
  };
  let tensors: Map<string, HostTensor>;
  let cfg: EncoderConfig;
  let mel: MelConfig = DEFAULT_MEL;
  let trainCropSeconds = DEFAULT_TRAIN_CROP_SECONDS;
  let source: string;
  let extra: Record<string, string> = {};
  if (isZip(bytes)) {
    let imported;
    try {
      imported = importTorchCheckpoint(bytes);
    } catch (err) {
      return fail(`is not a usable PyTorch checkpoint: ${(err as Error).message}`);
    }
    tensors = imported.tensors;
    source = imported.source;
    trainCropSeconds = imported.trainCropSeconds ?? DEFAULT_TRAIN_CROP_SECONDS;
    cfg = inferConfig(tensors, { arch: imported.arch }, fail);
  } else {
    let st;
    try {
      st = readSafetensors(bytes);
    } catch (err) {
      const why = (err as Error).message;
      // A JSON header after the length field means safetensors, just damaged.
      if (bytes.length > 8 && bytes[8] === 0x7b && !why.includes("bad header length")) {
        return fail(`is a damaged safetensors file: ${why}`);
      }
      return fail(
        "is neither an atst .safetensors nor a PyTorch .ckpt/.pth (unrecognised contents)",
      );
    }
    source = "atst";
    tensors = selectEncoder(st.tensors, fail);
    const { encoder: encJson, mel: melJson, trainCropSeconds: tcs, ...rest } = st.metadata;
    extra = rest;
    if (encJson !== undefined) {
      try {
        cfg = parseConfig(encJson);
      } catch (err) {
        return fail(`has a bad encoder config in its metadata: ${(err as Error).message}`);
      }
    } else {
      cfg = inferConfig(tensors, {}, fail);
    }
    if (melJson !== undefined) {
      try {
        mel = { ...DEFAULT_MEL, ...JSON.parse(melJson) };
      } catch {
        return fail(`has a bad mel config in its metadata`);
      }
    }
    if (tcs !== undefined) {
      trainCropSeconds = Number(tcs);
      if (!(trainCropSeconds > 0)) fail(`has a bad trainCropSeconds '${tcs}' in its metadata`);
    }
  }
  const encoder = buildEncoder(cfg, tensors, opts, fail);
  return { encoder, meta: { encoder: cfg, mel, trainCropSeconds, sha256, source, extra } };
}

/**
 * Picks the encoder's tensors out of a file that may hold more (a training
 * checkpoint): unprefixed names, else the prefix in front of `pos_embed`,
 * preferring a teacher's.
 */
function selectEncoder(
  all: Map<string, HostTensor>,
  fail: (why: string) => never,
): Map<string, HostTensor> {
  if (all.has("pos_embed")) return all;
  const prefixes = [...all.keys()].filter((k) => k.endsWith(".pos_embed")).map((k) =>
    k.slice(0, -9)
  );
  if (prefixes.length === 0) return fail("does not hold an ATST encoder (no pos_embed tensor)");
  const prefix = prefixes.find((p) => p.includes("teacher")) ?? prefixes[0]!;
  const out = new Map<string, HostTensor>();
  for (const [k, v] of all) if (k.startsWith(prefix)) out.set(k.slice(prefix.length), v);
  return out;
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}
