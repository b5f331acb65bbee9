/**
 * The run directory's durable state: training checkpoints
 * (`ckpt-<step>.safetensors`, written atomically, the last K kept) and the
 * per-step log (`log.jsonl`). One writer and one reader, side by side.
 *
 * A checkpoint holds every tensor of {@link TeacherStudent.stateTensors}
 * as F32 and, in the safetensors metadata under `atst_train`, the JSON of
 * {@link TrainState}: the step, AdamW's step count, the resolved config and
 * both mixup memories (as crop descriptors).
 *
 * @module
 */
import { join } from "node:path";
import { type Tensor, tf } from "../backend/tf.ts";
import { type HostTensor, readSafetensors, writeSafetensors } from "../model/safetensors.ts";
import { exists, writeFileAtomic } from "../io/atomic.ts";
import { UserError } from "../errors.ts";
import type { CropRef } from "./views.ts";

/** The non-tensor part of a checkpoint. */
export interface TrainState<C = unknown> {
  format: "atst-pretrain";
  /** Optimisation steps completed. */
  step: number;
  optimizerStep: number;
  config: C;
  /** Mixup memories of view 1 and view 2. */
  mixup: [CropRef[], CropRef[]];
}

const CKPT = /^ckpt-(\d+)\.safetensors$/;

/** Checkpoint file name for a step. */
export function checkpointName(step: number): string {
  return `ckpt-${String(step).padStart(8, "0")}.safetensors`;
}

/** Checkpoints in `runDir`, oldest first. */
export async function listCheckpoints(runDir: string): Promise<{ step: number; path: string }[]> {
  const out: { step: number; path: string }[] = [];
  if (!(await exists(runDir))) return out;
  for await (const e of Deno.readDir(runDir)) {
    const m = e.isFile ? CKPT.exec(e.name) : null;
    if (m) out.push({ step: Number(m[1]), path: join(runDir, e.name) });
  }
  return out.sort((a, b) => a.step - b.step);
}

/**
 * Writes a checkpoint atomically, then removes all but the newest `keep`.
 * Refuses (UserError) when any tensor holds NaN or infinity.
 */
export async function saveCheckpoint<C>(
  runDir: string,
  tensors: Map<string, Tensor>,
  state: TrainState<C>,
  keep: number,
): Promise<string> {
  const host = new Map<string, HostTensor>();
  for (const [k, t] of tensors) {
    const data = Float32Array.from(await t.data());
    // Never persist a broken state: a resumed run would only fail later.
    if (!data.every(Number.isFinite)) {
      throw new UserError(
        `Tensor '${k}' is not finite at step ${state.step}; not writing a checkpoint`,
      );
    }
    host.set(k, { shape: t.shape, data });
  }
  const bytes = writeSafetensors(host, { atst_train: JSON.stringify(state) });
  const path = join(runDir, checkpointName(state.step));
  await writeFileAtomic(path, bytes);
  const all = await listCheckpoints(runDir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) await Deno.remove(old.path);
  return path;
}

/** Reads a checkpoint: tensors (caller disposes) and state. */
export async function loadCheckpoint<C>(
  path: string,
): Promise<{ tensors: Map<string, Tensor>; state: TrainState<C> }> {
  let parsed;
  try {
    parsed = readSafetensors(await Deno.readFile(path));
  } catch (err) {
    throw new Error(`Cannot read checkpoint '${path}': ${(err as Error).message}`);
  }
  const raw = parsed.metadata.atst_train;
  if (!raw) {
    throw new Error(`Checkpoint '${path}' has no training state (not written by atst pretrain)`);
  }
  const state = JSON.parse(raw) as TrainState<C>;
  const tensors = new Map<string, Tensor>();
  for (const [k, t] of parsed.tensors) tensors.set(k, tf.tensor(t.data, t.shape, "float32"));
  return { tensors, state };
}

/** One line of `log.jsonl`. */
export interface LogLine {
  step: number;
  loss: number;
  lr: number;
  wd: number;
  ema: number;
  std_student: number;
  std_teacher: number;
  seconds: number;
}

/** Appends lines to `<run>/log.jsonl`. */
export async function appendLog(runDir: string, lines: LogLine[]): Promise<void> {
  const text = lines.map((l) => JSON.stringify(l) + "\n").join("");
  await Deno.writeTextFile(join(runDir, "log.jsonl"), text, { append: true });
}

/**
 * Drops log lines past `step` (written after the checkpoint a resumed run
 * starts from), so the log reads as one uninterrupted run.
 */
export async function truncateLog(runDir: string, step: number): Promise<void> {
  const path = join(runDir, "log.jsonl");
  if (!(await exists(path))) return;
  const kept = (await Deno.readTextFile(path)).split("\n").filter((l) => {
    if (!l.trim()) return false;
    try {
      return (JSON.parse(l) as LogLine).step <= step;
    } catch {
      return false; // a line cut short by a kill
    }
  });
  await writeFileAtomic(path, kept.map((l) => l + "\n").join(""));
}
