/**
 * The kernels of the attention op (lib/ops/attention.ts) for a backend
 * that keeps float32 data in JS arrays and has a BLAS: per batch item and
 * head, BLAS products that read q, k and v in place from the packed
 * [B, N, 3, H, hd] projection and write the context straight into
 * [B, N, H * hd]; the backward reuses the saved probabilities.
 *
 * @module
 */
import type { tf } from "../tf.ts";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { ATTENTION, ATTENTION_GRAD } from "../../ops/kernel_names.ts";
import type { Blas } from "./_blas.ts";
import type { Dnnl } from "./_dnnl.ts";
import { float32Values } from "./_tensor_data.ts";
import { softmaxRows } from "./softmax.ts";
import { allocF32 } from "./buffer_pool.ts";

type Info = tf.TensorInfo;

/** Sizes and packed qkv [B, N, 3D] of an attention kernel call (both directions). */
function unpack(b: MathBackendCPU, inputs: tf.NamedTensorInfoMap, attrs?: tf.NamedAttrMap) {
  const { heads: H, scale } = attrs as unknown as { heads: number; scale: number };
  const qkvI = inputs.qkv as Info;
  const [B, N, D3] = qkvI.shape as [number, number, number];
  const D = D3 / 3;
  return { H, scale, B, N, D3, D, hd: D / H, qkv: float32Values(b, qkvI) };
}

/** Kernel configs for attention and its gradient on `backendName`; softmax in oneDNN when given. */
export function attentionKernels(backendName: string, blas: Blas, dnnl?: Dnnl): tf.KernelConfig[] {
  const softmax = (
    x: Float32Array,
    n: number,
  ) => (dnnl ? dnnl.softmax(x, n, x) : softmaxRows(x, n, x));
  return [
    {
      kernelName: ATTENTION,
      backendName,
      kernelFunc: ({ inputs, backend, attrs }) => {
        const b = backend as MathBackendCPU;
        const { H, scale, B, N, D3, D, hd, qkv } = unpack(b, inputs, attrs);
        const mask = float32Values(b, inputs.mask as Info);
        const ctx = allocF32(b, B * N * D), probs = allocF32(b, B * H * N * N);
        blas.setThreads(1); // per-head products are small (see matmul.ts)
        try {
          for (let bi = 0; bi < B; bi++) {
            const row = mask.subarray(bi * N, (bi + 1) * N);
            for (let h = 0; h < H; h++) {
              const p = probs.subarray((bi * H + h) * N * N, (bi * H + h + 1) * N * N);
              for (let i = 0; i < N; i++) p.set(row, i * N);
              const base = bi * N * D3 + h * hd;
              // P = softmax(scale * Q K^T + mask); Q, K read in place with row stride 3D.
              blas.sgemm(
                false,
                true,
                N,
                N,
                hd,
                scale,
                qkv.subarray(base),
                D3,
                qkv.subarray(base + D),
                D3,
                1,
                p,
                N,
              );
              softmax(p, N);
              // ctx[:, h*hd:(h+1)*hd] = P V, written with row stride D.
              blas.sgemm(
                false,
                false,
                N,
                hd,
                N,
                1,
                p,
                N,
                qkv.subarray(base + 2 * D),
                D3,
                0,
                ctx.subarray(bi * N * D + h * hd),
                D,
              );
            }
          }
        } finally {
          blas.setThreads(blas.threads);
        }
        return [
          b.makeTensorInfo([B, N, D], "float32", ctx),
          b.makeTensorInfo([B, H, N, N], "float32", probs),
        ];
      },
    },
    {
      kernelName: ATTENTION_GRAD,
      backendName,
      kernelFunc: ({ inputs, backend, attrs }) => {
        const b = backend as MathBackendCPU;
        const { H, scale, B, N, D3, D, hd, qkv } = unpack(b, inputs, attrs);
        const probs = float32Values(b, inputs.probs as Info),
          dy = float32Values(b, inputs.dy as Info);
        const dqkv = allocF32(b, B * N * D3), dS = new Float32Array(N * N);
        blas.setThreads(1);
        try {
          for (let bi = 0; bi < B; bi++) {
            for (let h = 0; h < H; h++) {
              const p = probs.subarray((bi * H + h) * N * N, (bi * H + h + 1) * N * N);
              const base = bi * N * D3 + h * hd, dyh = dy.subarray(bi * N * D + h * hd);
              // dV = P^T dY
              blas.sgemm(
                true,
                false,
                N,
                hd,
                N,
                1,
                p,
                N,
                dyh,
                D,
                0,
                dqkv.subarray(base + 2 * D),
                D3,
              );
              // dP = dY V^T, then dS = P * (dP - rowsum(P * dP)) (softmax backward)
              blas.sgemm(
                false,
                true,
                N,
                N,
                hd,
                1,
                dyh,
                D,
                qkv.subarray(base + 2 * D),
                D3,
                0,
                dS,
                N,
              );
              for (let i = 0; i < N; i++) {
                const o = i * N;
                let s = 0;
                for (let j = 0; j < N; j++) s += p[o + j]! * dS[o + j]!;
                for (let j = 0; j < N; j++) dS[o + j] = p[o + j]! * (dS[o + j]! - s);
              }
              // dQ = scale dS K, dK = scale dS^T Q
              blas.sgemm(
                false,
                false,
                N,
                hd,
                N,
                scale,
                dS,
                N,
                qkv.subarray(base + D),
                D3,
                0,
                dqkv.subarray(base),
                D3,
              );
              blas.sgemm(
                true,
                false,
                N,
                hd,
                N,
                scale,
                dS,
                N,
                qkv.subarray(base),
                D3,
                0,
                dqkv.subarray(base + D),
                D3,
              );
            }
          }
        } finally {
          blas.setThreads(blas.threads);
        }
        return b.makeTensorInfo([B, N, D3], "float32", dqkv);
      },
    },
  ];
}
