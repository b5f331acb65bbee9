import assert from "node:assert/strict";
import { tf } from "../lib/backend/tf.ts";
import { maxAbsDiff, ROOT } from "./_helpers.ts";
import { HAVE_MPI, mpirun } from "./_mpi.ts";
import { type HeadResult, runHead, SYNC_GOLDEN } from "./_sync_bn.ts";

const g = SYNC_GOLDEN;
const N = g.x.shape[0] as number;

/** Asserts `res`, computed on rows `[first, first + count)`, equals the golden of the joined batch. */
function assertGolden(res: HeadResult, first: number, count: number, what: string): void {
  const rows = (a: { shape: number[]; data: number[] }) =>
    a.data.slice(first * a.shape[1]!, (first + count) * a.shape[1]!);
  assert.ok(maxAbsDiff(res.y, rows(g.y)) < 1e-5, `${what}: y ${maxAbsDiff(res.y, rows(g.y))}`);
  assert.ok(maxAbsDiff(res.gradX, rows(g.grad_x)) < 1e-5, `${what}: dx`);
  for (const k of Object.keys(g.grad)) {
    const d = maxAbsDiff(res.grad[k]!, g.grad[k].data);
    assert.ok(d < 1e-5, `${what}: d${k} ${d}`);
  }
  assert.ok(maxAbsDiff(res.runningMean, g.running_mean.data) < 1e-6, `${what}: running mean`);
  assert.ok(maxAbsDiff(res.runningVar, g.running_var.data) < 1e-5, `${what}: running var`);
}

Deno.test("the head in one process matches PyTorch's BatchNorm on the golden batch", async () => {
  assertGolden(await runHead(0, N), 0, N, "one process");
});

Deno.test("a head with a one-rank sync is the plain head, bit for bit", async () => {
  const plain = await runHead(0, N);
  const solo = await runHead(0, N, { size: 1, allreduce: () => {} });
  assert.deepEqual(solo, plain);
});

Deno.test("the synchronised path over two ranks holding the same rows equals plain BatchNorm", async () => {
  // A stand-in for 2 ranks with identical rows: the allreduce doubles every sum. The joined
  // batch is the batch twice, with the same statistics, outputs and input gradients, and
  // parameter gradients that are this rank's share (the half of the joined batch's).
  const before = tf.memory().numTensors;
  const twin = await runHead(0, N, {
    size: 2,
    allreduce: (b) => b.forEach((v, i) => (b[i] = 2 * v)),
  });
  assert.equal(tf.memory().numTensors, before, "no tensor left behind");
  const plain = await runHead(0, N);
  assert.ok(maxAbsDiff(twin.y, plain.y) < 1e-6, "y");
  assert.ok(maxAbsDiff(twin.gradX, plain.gradX) < 1e-6, "dx");
  for (const k of Object.keys(plain.grad)) {
    assert.ok(maxAbsDiff(twin.grad[k]!, plain.grad[k]!) < 1e-5, k);
  }
  // Running variance of 2N rows: unbiased with 2N - 1, not N - 1.
  const hv = plain.runningVar.map((v) => (v - 0.9) / 0.1 * (N - 1) / N);
  const want = hv.map((v) => 0.9 + 0.1 * v * (2 * N) / (2 * N - 1));
  assert.ok(maxAbsDiff(twin.runningVar, want) < 1e-5, "running var over 2N rows");
});

Deno.test({
  name:
    "two ranks under mpirun, each with half the rows, equal PyTorch's BatchNorm on the joined batch",
  ignore: !HAVE_MPI,
  fn: async () => {
    const script = `${ROOT}tests/_sync_bn.ts`;
    const dir = await Deno.makeTempDir({ prefix: "atst-syncbn-" });
    const out = await mpirun([["run", "-A", script, dir], ["run", "-A", script, dir]]).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const lines = [0, 1].map((r) => JSON.parse(Deno.readTextFileSync(`${dir}/rank-${r}.json`)));
    await Deno.remove(dir, { recursive: true });
    assert.deepEqual(lines.map((l) => l.rank).sort(), [0, 1]);
    for (const l of lines) assertGolden(l, l.rank * N / 2, N / 2, `rank ${l.rank}`);
    // Each rank normalising with its own half's statistics would be far off:
    const alone = await runHead(0, N / 2);
    assert.ok(maxAbsDiff(alone.y, g.y.data.slice(0, alone.y.length)) > 1e-2, "halves differ");
  },
});
