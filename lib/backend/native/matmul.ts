/**
 * BatchMatMul, _FusedMatMul and the linear op's kernel (lib/ops/linear.ts)
 * for the "native" backend on the system BLAS's `sgemm`. Batch dimensions
 * broadcast like NumPy (tfjs's cpu kernel only handles one side being 1);
 * a shared right-hand matrix is folded into one tall product, which is
 * what dense layers on [B, N, D] need. A bias is the product's starting
 * matrix (sgemm's C with beta 1), so adding it costs no pass of its own.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import type { Blas } from "./_blas.ts";
import type { Dnnl } from "./_dnnl.ts";
import { LINEAR } from "../../ops/kernel_names.ts";
import { type FastKernel, overrideCpu } from "./_override.ts";
import { float32Values } from "./_tensor_data.ts";
import { allocF32 } from "./buffer_pool.ts";
import { applyActivationInPlace, hasInPlaceActivation } from "./activations.ts";

type TensorInfo = tf.TensorInfo;

/** Products with fewer multiply-adds than this (per batch item) run on one BLAS thread. */
const SMALL_MNK = 1 << 23;

interface MatMulArgs {
  a: TensorInfo;
  b: TensorInfo;
  transposeA: boolean;
  transposeB: boolean;
}

/** The shape broadcast of two batch-dim lists (NumPy rules); throws on a mismatch. */
function broadcastBatch(a: number[], b: number[]): number[] {
  return tf.backend_util.assertAndGetBroadcastShape(a, b);
}

/** Offsets (in matrices) into a batch of `dims` for each index of the broadcast batch `out`. */
function batchOffsets(dims: number[], out: number[]): Int32Array {
  const total = out.reduce((p, d) => p * d, 1);
  const offs = new Int32Array(total);
  const rank = out.length;
  // Right-align dims against out; a size-1 (or missing) dim repeats.
  const strides = new Array<number>(rank).fill(0);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    const j = i - (rank - dims.length);
    const d = j >= 0 ? dims[j]! : 1;
    strides[i] = d === 1 ? 0 : s;
    s *= d;
  }
  for (let idx = 0; idx < total; idx++) {
    let rem = idx, off = 0;
    for (let i = rank - 1; i >= 0; i--) {
      const d = out[i]!;
      off += (rem % d) * strides[i]!;
      rem = Math.floor(rem / d);
    }
    offs[idx] = off;
  }
  return offs;
}

/**
 * The product into a fresh Float32Array (pre-filled by `init`, e.g. with a
 * bias, in which case sgemm accumulates onto it). Returns values and shape.
 */
export function matMulValues(
  blas: Blas,
  backend: MathBackendCPU,
  { a, b, transposeA, transposeB }: MatMulArgs,
  init?: (out: Float32Array, m: number, n: number) => void,
  dnnl?: Dnnl,
): { values: Float32Array; shape: number[] } {
  const ra = a.shape.length, rb = b.shape.length;
  const m = transposeA ? a.shape[ra - 1]! : a.shape[ra - 2]!;
  const ka = transposeA ? a.shape[ra - 2]! : a.shape[ra - 1]!;
  const kb = transposeB ? b.shape[rb - 1]! : b.shape[rb - 2]!;
  const n = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
  if (ka !== kb) {
    throw new Error(
      `Error in matMul: inner shapes (${ka}) and (${kb}) of Tensors with shapes ${a.shape} and ` +
        `${b.shape} and transposeA=${transposeA} and transposeB=${transposeB} must match.`,
    );
  }
  const k = ka;
  const batchA = a.shape.slice(0, -2), batchB = b.shape.slice(0, -2);
  const batchOut = broadcastBatch(batchA, batchB);
  const nBatch = batchOut.reduce((p, d) => p * d, 1);
  const shape = [...batchOut, m, n];
  const out = allocF32(backend, nBatch * m * n); // every element is written below
  if (init) init(out, nBatch * m, n);
  else if (k === 0) out.fill(0);
  if (out.length === 0 || k === 0) return { values: out, shape };
  const av = float32Values(backend, a), bv = float32Values(backend, b);
  const beta = init ? 1 : 0;
  const lda = transposeA ? m : k, ldb = transposeB ? k : n;
  const sizeA = m * k, sizeB = k * n, sizeC = m * n;
  const nA = batchA.reduce((p, d) => p * d, 1), nB = batchB.reduce((p, d) => p * d, 1);
  // Large products go to oneDNN's sgemm when it is there: with its AVX-512 JIT kernels the
  // training step ran about 1.6x faster than on OpenBLAS here (README, Benchmarks).
  const big = (rows: number) => dnnl !== undefined && rows * n * k >= SMALL_MNK;
  if (nB === 1 && !transposeA && nA === nBatch) {
    // One right-hand matrix: stack the left batch into a single [nBatch*m, k] product.
    const gemm = big(nBatch * m) ? dnnl!.sgemm : blas.sgemm;
    gemm(false, transposeB, nBatch * m, n, k, 1, av, lda, bv, ldb, beta, out, n);
    return { values: out, shape };
  }
  const offA = batchOffsets(batchA, batchOut), offB = batchOffsets(batchB, batchOut);
  if (big(m)) {
    gemmBatch(dnnl!.sgemm);
    return { values: out, shape };
  }
  // Attention-sized products (151x151x64) lose to thread start-up and, on a busy
  // machine, to OpenBLAS's spin-waiting: run those on one thread.
  if (m * n * k < SMALL_MNK) blas.setThreads(1);
  try {
    gemmBatch(blas.sgemm);
  } finally {
    blas.setThreads(blas.threads);
  }
  return { values: out, shape };

  function gemmBatch(gemm: Blas["sgemm"]): void {
    for (let i = 0; i < nBatch; i++) {
      const oa = offA[i]! * sizeA, ob = offB[i]! * sizeB, oc = i * sizeC;
      gemm(
        transposeA,
        transposeB,
        m,
        n,
        k,
        1,
        av.subarray(oa, oa + sizeA),
        lda,
        bv.subarray(ob, ob + sizeB),
        ldb,
        beta,
        out.subarray(oc, oc + sizeC),
        n,
      );
    }
  }
}

/**
 * Kernel configs for BatchMatMul, _FusedMatMul and the linear op on
 * `backendName`; large products run in oneDNN when `dnnl` is given.
 */
export function matMulKernels(blas: Blas, backendName: string, dnnl?: Dnnl): tf.KernelConfig[] {
  const isF32 = (...ts: (TensorInfo | undefined)[]) =>
    ts.every((t) => t === undefined || t.dtype === "float32");

  /** The product plus `bias` (one row, [n]) as a new float32 tensor; no activation. */
  const product = (backend: MathBackendCPU, args: MatMulArgs, bias?: TensorInfo) => {
    const row = bias ? float32Values(backend, bias) : undefined;
    const init = row
      ? (out: Float32Array, rows: number, n: number) => fillRows(out, rows, n, row)
      : undefined;
    return matMulValues(blas, backend, args, init, dnnl);
  };

  const batchMatMul: FastKernel = (args) => {
    const backend = args.backend as MathBackendCPU;
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as MatMulArgs;
    if (!isF32(a, b)) return undefined;
    const { values, shape } = product(backend, {
      a,
      b,
      transposeA: !!transposeA,
      transposeB: !!transposeB,
    });
    return backend.makeTensorInfo(shape, "float32", values);
  };

  const fusedMatMul: FastKernel = (args) => {
    const backend = args.backend as MathBackendCPU;
    const { a, b, bias, preluActivationWeights } = args.inputs as {
      a: TensorInfo;
      b: TensorInfo;
      bias?: TensorInfo;
      preluActivationWeights?: TensorInfo;
    };
    const attrs = args.attrs as unknown as MatMulArgs & {
      activation?: string;
      leakyreluAlpha?: number;
    };
    const activation = attrs.activation ?? "linear";
    const n = attrs.transposeB ? b.shape[b.shape.length - 2] : b.shape[b.shape.length - 1];
    // A bias that is one row (shape [n], [1, n], ...) seeds the output; others go the cpu way.
    const rowBias = bias !== undefined && tf.util.sizeFromShape(bias.shape) === n &&
      bias.shape[bias.shape.length - 1] === n;
    if (
      !isF32(a, b, bias) || (bias !== undefined && !rowBias) ||
      !hasInPlaceActivation(activation) || preluActivationWeights !== undefined
    ) {
      return undefined;
    }
    const { values, shape } = product(
      backend,
      { a, b, transposeA: !!attrs.transposeA, transposeB: !!attrs.transposeB },
      bias,
    );
    applyActivationInPlace(values, activation, attrs.leakyreluAlpha ?? 0.2);
    return backend.makeTensorInfo(shape, "float32", values);
  };

  // The linear op asks for this kernel only with float32 tensors.
  const linear: tf.KernelFunc = (args) => {
    const backend = args.backend as MathBackendCPU;
    const { x, weight, bias } = args.inputs as {
      x: TensorInfo;
      weight: TensorInfo;
      bias: TensorInfo;
    };
    const n = weight.shape[1];
    if (
      x.shape.length !== 2 || weight.shape.length !== 2 || bias.shape.length !== 1 ||
      bias.shape[0] !== n
    ) {
      throw new Error(
        `Linear input ${x.shape}, weight ${weight.shape} and bias ${bias.shape} must be ` +
          "[M, in], [in, out] and [out]",
      );
    }
    const { values, shape } = product(
      backend,
      { a: x, b: weight, transposeA: false, transposeB: false },
      bias,
    );
    return backend.makeTensorInfo(shape, "float32", values);
  };

  return [
    overrideCpu("BatchMatMul", backendName, batchMatMul),
    overrideCpu("_FusedMatMul", backendName, fusedMatMul),
    { kernelName: LINEAR, backendName, kernelFunc: linear },
  ];
}

function fillRows(out: Float32Array, rows: number, n: number, row: Float32Array): void {
  for (let r = 0; r < rows; r++) out.set(row, r * n);
}
