/**
 * The synchronised-BatchNorm head on `rows` of the golden batch of
 * fixtures/train/sync_bn.json (tools/gen_sync_bn_fixture.py): forward in
 * training, loss sum(y * r) over those rows, gradients of the input and of
 * every parameter (PyTorch layout), running statistics. Run as a program
 * under mpirun, each rank prints its result as one JSON line, its
 * parameter gradients summed over the ranks (the gradient of the joined
 * batch's loss).
 *
 * @module
 */
import { tf } from "../lib/backend/tf.ts";
import { enableGradients } from "../lib/model/gradients.ts";
import { type BatchSync, MlpHead } from "../lib/model/heads.ts";
import { type Arr, fixture, isTorchTransposed, tensorOurs } from "./_train_golden.ts";

// deno-lint-ignore no-explicit-any
export const SYNC_GOLDEN: any = JSON.parse(Deno.readTextFileSync(fixture("train", "sync_bn.json")));

/** What one rank computes for its rows. */
export interface HeadResult {
  y: number[];
  gradX: number[];
  grad: Record<string, number[]>;
  runningMean: number[];
  runningVar: number[];
}

/** Rows `[first, first + count)` of a stored [N, d] array. */
export function rowsOf(a: Arr, first: number, count: number): tf.Tensor2D {
  const d = a.shape[1]!;
  return tf.tensor2d(a.data.slice(first * d, (first + count) * d), [count, d]);
}

/** The golden head on rows `[first, first + count)`, BatchNorm synchronised over `sync`. */
export async function runHead(first: number, count: number, sync?: BatchSync): Promise<HeadResult> {
  await enableGradients();
  const g = SYNC_GOLDEN;
  const [hid, din] = g.weights["0.weight"].shape;
  const dout = g.weights["3.weight"].shape[0];
  const head = new MlpHead({ inDim: din, hidden: hid, outDim: dout }, { name: "sync_bn", sync });
  for (const [k, v] of [...head.params(), ...head.buffers()]) {
    const t = tensorOurs(k, g.weights[k]);
    v.assign(t);
    t.dispose();
  }
  const x = rowsOf(g.x, first, count); // [n, din]
  const r = rowsOf(g.r, first, count); // [n, dout]
  const names = [...head.params()].map(([k, v]) => [k, v.name] as const);
  // The input as a variable: its gradient comes from the same backward as the weights'.
  const xv = tf.variable(x, true, `sync_bn/x#${first}`);
  const out = tf.tidy(() => {
    let y: tf.Tensor | undefined;
    const { grads } = tf.variableGrads(() => {
      y = tf.keep(head.forward(xv, { training: true })); // [n, dout]
      return tf.sum(tf.mul(y, r)) as tf.Scalar;
    }, [xv, ...head.params().values()]);
    return {
      y: y!,
      gradX: grads[xv.name]!,
      grad: Object.fromEntries(
        names.map(([k, n]) => [k, isTorchTransposed(k) ? tf.transpose(grads[n]!) : grads[n]!]),
      ),
    };
  });
  head.commitRunningStats();
  const result: HeadResult = {
    y: [...out.y.dataSync()],
    gradX: [...out.gradX.dataSync()],
    grad: Object.fromEntries(Object.entries(out.grad).map(([k, t]) => [k, [...t.dataSync()]])),
    runningMean: [...head.buffers().get("1.running_mean")!.dataSync()],
    runningVar: [...head.buffers().get("1.running_var")!.dataSync()],
  };
  tf.dispose([out.y, out.gradX, ...Object.values(out.grad), x, r, xv]);
  head.dispose();
  return result;
}

if (import.meta.main) {
  const { openWorld } = await import("../lib/dist/world.ts");
  const world = await openWorld();
  const count = SYNC_GOLDEN.x.shape[0] / world.size;
  const res = await runHead(world.rank * count, count, world);
  for (const [k, v] of Object.entries(res.grad)) {
    const sum = Float32Array.from(v);
    world.allreduce(sum);
    res.grad[k] = [...sum];
  }
  // One file per rank: two ranks' long lines on one shared stdout can interleave mid-line.
  const out = Deno.args[0];
  if (!out) throw new Error("Usage: _sync_bn.ts OUT_DIR (writes OUT_DIR/rank-<r>.json)");
  await Deno.writeTextFile(
    `${out}/rank-${world.rank}.json`,
    JSON.stringify({ rank: world.rank, ...res }),
  );
  world.finalize();
}
