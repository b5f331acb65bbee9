/**
 * Reads the authors' PyTorch checkpoints without Python.
 *
 * `torch.save` (since PyTorch 1.6) writes a zip: `<name>/data.pkl` is a
 * pickle (protocol 2) of the object, in which each tensor is a call to
 * `torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)` and
 * each storage a persistent id `("storage", torch.FloatStorage, key,
 * device, numel)` whose bytes are the zip entry `<name>/data/<key>`.
 * The pickle is parsed by `pickleparser`; here we only resolve torch's
 * names, then read just the storages the teacher encoder needs.
 *
 * These layouts are understood (as the reference's train_freeze.py and the
 * ATST-Frame downstream code do), for either family:
 * - Lightning pre-training `.ckpt`: `state_dict` with keys
 *   `model.teacher.encoder.*`, `hyper_parameters` holding `train_len` or
 *   `anchor_len` (seconds) and `arch`.
 * - Lightning fine-tuned `.ckpt` (ATST-SED, the authors' downstream code):
 *   the encoder under `encoder.encoder.*`, or `encoder.encoder.frame_encoder.*`
 *   for ATST-C2F; every other key (heads) is ignored.
 * - the older plain form: `teacher` holds a state_dict whose keys may carry
 *   `module.` and `backbone.` prefixes, `args` (an argparse Namespace)
 *   holds `anchor_len[0]` and `arch`.
 * A bare encoder state_dict is accepted too.
 *
 * @module
 */
import { unzipSync } from "fflate";
import { NameRegistry, Parser } from "pickleparser";
import { decode, type HostTensor, type StDtype } from "./safetensors.ts";

/** What {@link importTorchCheckpoint} found. */
export interface TorchImport {
  /** Encoder tensors under the reference names (prefixes removed), float32. */
  tensors: Map<string, HostTensor>;
  /** "lightning", "finetuned", "finetuned-c2f", "plain" or "state_dict". */
  source: string;
  /** Pre-training crop length, when the file records it. */
  trainCropSeconds?: number;
  /** The recorded architecture name ("small", "base", "ast", ...), if any. */
  arch?: string;
}

/** True when the bytes start like a zip archive (torch.save's format since 1.6). */
export function isZip(bytes: Uint8Array): boolean {
  return bytes.length > 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 &&
    bytes[3] === 4;
}

const STORAGE_DTYPES: Record<string, StDtype> = {
  FloatStorage: "F32",
  HalfStorage: "F16",
  BFloat16Storage: "BF16",
  DoubleStorage: "F64",
};

/** A storage reference from a persistent id. */
interface StorageRef {
  key: string;
  dtype: StDtype | string;
  numel: number;
}

/** A tensor as the pickle describes it, before its bytes are read. */
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}

/**
 * Python dicts with extra behaviour (OrderedDict, Lightning's AttributeDict)
 * become Maps; pickles build them by call (REDUCE) or by `new` (NEWOBJ).
 */
function PyDict(): Map<unknown, unknown> {
  return new Map();
}

/** Python objects we do not model: their state lands in plain properties. */
class Registry extends NameRegistry {
  constructor() {
    super();
    this.register("collections", "OrderedDict", PyDict);
    this.register("torch._utils", "_rebuild_tensor_v2", rebuildTensor);
    this.register("torch._utils", "_rebuild_tensor", rebuildTensor);
    this.register("torch._utils", "_rebuild_parameter", (data: unknown) => data);
    this.register("torch._utils", "_rebuild_parameter_with_state", (data: unknown) => data);
    for (const name of Object.keys(STORAGE_DTYPES)) {
      this.register("torch", name, storageMarker(name));
    }
  }
  override onMissingName(module: string, name: string) {
    // Dict subclasses (AttributeDict, defaultdict, ...) get their items through SETITEMS.
    if (/Dict$|dict$/.test(name)) return PyDict;
    if (module === "torch" && name.endsWith("Storage")) return storageMarker(name);
    return super.onMissingName(module, name);
  }
}

function storageMarker(name: string) {
  const f = () => name;
  Object.defineProperty(f, "storageName", { value: name });
  return f;
}

function rebuildTensor(storage: StorageRef, offset: number, shape: number[], stride: number[]) {
  return new TensorRef(storage, offset, [...shape], [...stride]);
}

/**
 * Reads the teacher encoder of a torch.save zip. Throws an Error with a
 * one-line reason when the file is not a checkpoint we understand.
 */
export function importTorchCheckpoint(bytes: Uint8Array): TorchImport {
  const head = unzipSync(bytes, { filter: (f) => /(^|\/)(data\.pkl|byteorder)$/.test(f.name) });
  const pklName = Object.keys(head).find((n) => n.endsWith("data.pkl"));
  if (!pklName) throw new Error("the zip has no data.pkl (not written by torch.save)");
  const prefix = pklName.slice(0, -"data.pkl".length);
  const order = head[`${prefix}byteorder`];
  if (order && new TextDecoder().decode(order).trim() !== "little") {
    throw new Error("tensors are stored big-endian, which is not supported");
  }
  const parser = new Parser({
    nameResolver: new Registry(),
    persistentResolver: {
      resolve(pid: unknown): StorageRef {
        const [kind, type, key, _device, numel] = pid as [string, unknown, string, string, number];
        if (kind !== "storage") throw new Error(`unknown persistent id '${kind}'`);
        const name = (type as { storageName?: string }).storageName ?? String(type);
        return { key: String(key), dtype: STORAGE_DTYPES[name] ?? name, numel: Number(numel) };
      },
    },
    unpicklingTypeOfDictionary: "Map",
  });
  let root: unknown;
  try {
    root = parser.parse(head[pklName]!);
  } catch (err) {
    throw new Error(`cannot unpickle data.pkl: ${(err as Error).message}`);
  }
  if (!(root instanceof Map)) throw new Error("the pickled object is not a dict");
  const found = findEncoder(root);
  const wanted = new Set<string>();
  for (const ref of found.refs.values()) wanted.add(`${prefix}data/${ref.storage.key}`);
  const blobs = unzipSync(bytes, { filter: (f) => wanted.has(f.name) });
  const tensors = new Map<string, HostTensor>();
  for (const [name, ref] of found.refs) {
    const blob = blobs[`${prefix}data/${ref.storage.key}`];
    if (!blob) throw new Error(`storage ${ref.storage.key} of '${name}' is missing from the zip`);
    tensors.set(name, materialise(name, ref, blob));
  }
  return {
    tensors,
    source: found.source,
    trainCropSeconds: found.trainCropSeconds,
    arch: found.arch,
  };
}

/** Encoder parameter names of the reference (REFERENCE.md §2). */
const ENCODER_KEY = new RegExp(
  "^(patch_embed\\.patch_embed\\.(weight|bias)|cls_token|pos_embed|mask_embed|" +
    "(norm|norm_frame)\\.(weight|bias)|" +
    "blocks\\.\\d+\\.(norm1|norm2|attn\\.qkv|attn\\.proj|mlp\\.fc1|mlp\\.fc2)\\.(weight|bias))$",
);

/** Where Lightning checkpoints keep the encoder, most specific first. */
const LIGHTNING_LAYOUTS = [
  { prefix: "model.teacher.encoder.", source: "lightning" },
  { prefix: "encoder.encoder.frame_encoder.", source: "finetuned-c2f" },
  { prefix: "encoder.encoder.", source: "finetuned" },
] as const;

function findEncoder(root: Map<unknown, unknown>): {
  refs: Map<string, TensorRef>;
  source: string;
  trainCropSeconds?: number;
  arch?: string;
} {
  const refs = new Map<string, TensorRef>();
  const take = (name: string, v: unknown) => {
    if (!ENCODER_KEY.test(name)) return;
    if (!(v instanceof TensorRef)) throw new Error(`'${name}' is not a tensor`);
    refs.set(name, v);
  };
  const stateDict = root.get("state_dict");
  if (stateDict instanceof Map) {
    const keys = [...stateDict.keys()].filter((k): k is string => typeof k === "string");
    const layout = LIGHTNING_LAYOUTS.find((l) => keys.some((k) => k.startsWith(l.prefix)));
    if (!layout) {
      const want = LIGHTNING_LAYOUTS.map((l) => `'${l.prefix}*'`).join(", ");
      throw new Error(`its state_dict has none of the encoder prefixes ${want}`);
    }
    for (const k of keys) {
      if (k.startsWith(layout.prefix)) take(k.slice(layout.prefix.length), stateDict.get(k));
    }
    if (refs.size === 0) throw new Error(`its '${layout.prefix}*' entries hold no encoder weights`);
    const hp = root.get("hyper_parameters");
    const get = (key: string) => (hp instanceof Map ? hp.get(key) : undefined);
    const len = get("train_len") ?? get("anchor_len");
    const seconds = Array.isArray(len) ? len[0] : len;
    const arch = get("arch");
    return {
      refs,
      source: layout.source,
      trainCropSeconds: typeof seconds === "number" && seconds > 0 ? seconds : undefined,
      arch: typeof arch === "string" ? arch : undefined,
    };
  }
  const teacher = root.get("teacher");
  if (teacher instanceof Map) {
    for (const [k, v] of teacher) {
      // The reference strips every occurrence (Python's str.replace).
      if (typeof k === "string") take(k.replaceAll("module.", "").replaceAll("backbone.", ""), v);
    }
    if (refs.size === 0) throw new Error("its 'teacher' entry holds no encoder weights");
    const args = root.get("args") as Record<string, unknown> | undefined;
    const anchor = args?.anchor_len;
    const first = Array.isArray(anchor) ? anchor[0] : anchor;
    return {
      refs,
      source: "plain",
      trainCropSeconds: typeof first === "number" && first > 0 ? first : undefined,
      arch: typeof args?.arch === "string" ? args.arch : undefined,
    };
  }
  for (const [k, v] of root) if (typeof k === "string") take(k, v);
  if (refs.size === 0) {
    const keys = [...root.keys()].slice(0, 6).map(String).join(", ");
    throw new Error(`found no encoder weights (top-level keys: ${keys})`);
  }
  return { refs, source: "state_dict" };
}

/** Copies a (possibly strided) tensor out of its storage bytes as float32. */
function materialise(name: string, ref: TensorRef, blob: Uint8Array): HostTensor {
  const { storage, offset, shape, stride } = ref;
  if (!["F32", "F16", "BF16", "F64"].includes(storage.dtype)) {
    throw new Error(`tensor '${name}' is stored as ${storage.dtype}; expected a float type`);
  }
  const all = decode(blob, storage.dtype as StDtype, storage.numel);
  const count = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(count);
  let contiguous = true;
  for (let d = shape.length - 1, s = 1; d >= 0; s *= shape[d]!, d--) {
    if (shape[d] !== 1 && stride[d] !== s) contiguous = false;
  }
  let last = offset;
  for (let d = 0; d < shape.length; d++) last += (shape[d]! - 1) * stride[d]!;
  if (count > 0 && (offset < 0 || last >= storage.numel)) {
    throw new Error(`tensor '${name}' reaches past the end of its storage`);
  }
  if (contiguous) {
    out.set(all.subarray(offset, offset + count));
  } else {
    const idx = new Array<number>(shape.length).fill(0);
    for (let i = 0; i < count; i++) {
      let src = offset;
      for (let d = 0; d < shape.length; d++) src += idx[d]! * stride[d]!;
      out[i] = all[src]!;
      for (let d = shape.length - 1; d >= 0 && ++idx[d]! === shape[d]; d--) idx[d] = 0;
    }
  }
  return { shape: [...shape], data: out };
}
