/**
 * Multi-head self-attention as one op: softmax(q k^T * scale + mask) v from
 * the packed qkv projection. The "native" backend runs it as BLAS products
 * that read q, k and v in place from [B, N, 3, H, hd] and write the context
 * straight into [B, N, H * hd], so the head transposes, the q/k/v copies and
 * the separate scale and mask passes disappear; the backward saves only the
 * attention probabilities. Elsewhere it is composed from tfjs ops.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import type { Blas } from "./_blas.ts";
import type { Dnnl } from "./_dnnl.ts";
import { softmaxRows } from "./softmax.ts";
import { allocF32 } from "./buffer_pool.ts";

const ATTN = "AtstAttention";
const ATTN_GRAD = "AtstAttentionGrad";

/**
 * Self-attention over packed projections. `qkv` [B, N, 3 * D] holds q, k, v
 * in that order, heads contiguous (PyTorch's qkv Linear); `mask` is an
 * additive key mask [B, 1, 1, N] or null. Returns the heads' context
 * concatenated, [B, N, D], ready for the output projection.
 *
 * @example
 * ```ts
 * const ctx = attention(qkv, mask, 6, 64 ** -0.5); // [B, N, 384]
 * ```
 */
export function attention(
  qkv: tf.Tensor3D,
  mask: tf.Tensor | null,
  heads: number,
  scale: number,
): tf.Tensor3D {
  const [B, N, D3] = qkv.shape;
  const D = D3 / 3, hd = D / heads;
  if (tf.getKernel(ATTN, tf.getBackend()) === undefined || qkv.dtype !== "float32") {
    return tf.tidy(() => {
      const h = tf.transpose(tf.reshape(qkv, [B, N, 3, heads, hd]), [2, 0, 3, 1, 4]); // [3, B, H, N, hd]
      const [q, k, v] = tf.unstack(h) as [tf.Tensor4D, tf.Tensor4D, tf.Tensor4D];
      let logits: tf.Tensor = tf.matMul(tf.mul(q, scale), k, false, true); // [B, H, N, N]
      if (mask) logits = tf.add(logits, mask);
      const ctx = tf.matMul(tf.softmax(logits), v); // [B, H, N, hd]
      return tf.reshape(tf.transpose(ctx, [0, 2, 1, 3]), [B, N, D]) as tf.Tensor3D; // [B, N, D]
    });
  }
  const maskT = mask ?? tf.zeros([B, 1, 1, N]);
  const f = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, m, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [ctx, probs] = tf.engine().runKernel(ATTN, { qkv: x, mask: m }, {
      heads,
      scale,
    }) as tf.Tensor[];
    save([x, probs!]);
    return {
      value: ctx!,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const dqkv = tf.engine().runKernel(ATTN_GRAD, { dy, qkv: saved[0]!, probs: saved[1]! }, {
          heads,
          scale,
        }) as tf.Tensor;
        return [dqkv, tf.zeros(m.shape)]; // the mask is a constant
      },
    };
  });
  const out = f(qkv, maskT) as tf.Tensor3D;
  if (!mask) maskT.dispose();
  return out;
}

type Info = tf.TensorInfo;
const vals = (b: MathBackendCPU, t: Info) => b.data.get(t.dataId).values as Float32Array;

/** Sizes and packed qkv [B, N, 3D] of an attention kernel call (both directions). */
function unpack(b: MathBackendCPU, inputs: tf.NamedTensorInfoMap, attrs?: tf.NamedAttrMap) {
  const { heads: H, scale } = attrs as unknown as { heads: number; scale: number };
  const qkvI = inputs.qkv as Info;
  const [B, N, D3] = qkvI.shape as [number, number, number];
  const D = D3 / 3;
  return { H, scale, B, N, D3, D, hd: D / H, qkv: vals(b, qkvI) };
}

/** Kernels of {@link attention} for a backend with JS-held float32 data and a BLAS. */
export function attentionKernels(backendName: string, blas: Blas, dnnl?: Dnnl): tf.KernelConfig[] {
  const softmax = (
    x: Float32Array,
    n: number,
  ) => (dnnl ? dnnl.softmax(x, n, x) : softmaxRows(x, n, x));
  return [
    {
      kernelName: ATTN,
      backendName,
      kernelFunc: ({ inputs, backend, attrs }) => {
        const b = backend as MathBackendCPU;
        const { H, scale, B, N, D3, D, hd, qkv } = unpack(b, inputs, attrs);
        const mask = vals(b, inputs.mask as Info);
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
      kernelName: ATTN_GRAD,
      backendName,
      kernelFunc: ({ inputs, backend, attrs }) => {
        const b = backend as MathBackendCPU;
        const { H, scale, B, N, D3, D, hd, qkv } = unpack(b, inputs, attrs);
        const probs = vals(b, inputs.probs as Info), dy = vals(b, inputs.dy as Info);
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
