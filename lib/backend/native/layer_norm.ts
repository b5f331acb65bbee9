/**
 * The kernels of the LayerNorm op (lib/ops/layer_norm.ts) for a backend
 * that keeps float32 data in JS arrays: one pass per row forward, keeping
 * each row's mean and 1 / std for the one-pass backward.
 *
 * @module
 */
import { tf } from "../tf.ts";
import type { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";
import { LAYER_NORM, LAYER_NORM_GRAD } from "../../ops/kernel_names.ts";
import { float32Values } from "./_tensor_data.ts";
import { allocF32 } from "./buffer_pool.ts";

type Info = tf.TensorInfo;

function lnForward(
  x: Float32Array,
  w: Float32Array,
  b: Float32Array,
  eps: number,
  y: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
): void {
  const d = w.length, rows = mean.length;
  for (let r = 0; r < rows; r++) {
    const o = r * d;
    let s = 0;
    for (let i = 0; i < d; i++) s += x[o + i]!;
    const m = s / d;
    let v = 0;
    for (let i = 0; i < d; i++) {
      const c = x[o + i]! - m;
      v += c * c;
    }
    const rs = 1 / Math.sqrt(v / d + eps);
    for (let i = 0; i < d; i++) y[o + i] = (x[o + i]! - m) * rs * w[i]! + b[i]!;
    mean[r] = m;
    rstd[r] = rs;
  }
}

function lnBackward(
  dy: Float32Array,
  x: Float32Array,
  w: Float32Array,
  mean: Float32Array,
  rstd: Float32Array,
  dx: Float32Array,
  dw: Float32Array,
  db: Float32Array,
): void {
  const d = w.length, rows = mean.length;
  const dwAcc = new Float64Array(d), dbAcc = new Float64Array(d);
  for (let r = 0; r < rows; r++) {
    const o = r * d, m = mean[r]!, rs = rstd[r]!;
    // With xhat = (x - mean) rstd and g = dy w: dx = rstd (g - mean(g) - xhat mean(g xhat)).
    let sg = 0, sgx = 0;
    for (let i = 0; i < d; i++) {
      const xh = (x[o + i]! - m) * rs, g = dy[o + i]! * w[i]!;
      sg += g;
      sgx += g * xh;
      dwAcc[i]! += dy[o + i]! * xh;
      dbAcc[i]! += dy[o + i]!;
    }
    sg /= d;
    sgx /= d;
    for (let i = 0; i < d; i++) {
      const xh = (x[o + i]! - m) * rs;
      dx[o + i] = rs * (dy[o + i]! * w[i]! - sg - xh * sgx);
    }
  }
  for (let i = 0; i < d; i++) {
    dw[i] = dwAcc[i]!;
    db[i] = dbAcc[i]!;
  }
}

/** Kernel configs for LayerNorm and its gradient on `backendName`. */
export function layerNormKernels(backendName: string): tf.KernelConfig[] {
  return [
    {
      kernelName: LAYER_NORM,
      backendName,
      kernelFunc: ({ inputs, backend, attrs }) => {
        const b = backend as MathBackendCPU;
        const x = inputs.x as Info, w = inputs.weight as Info, bias = inputs.bias as Info;
        const d = x.shape[x.shape.length - 1]!;
        if (
          w.shape.length !== 1 || w.shape[0] !== d || bias.shape.length !== 1 || bias.shape[0] !== d
        ) {
          throw new Error(`LayerNorm weight ${w.shape} and bias ${bias.shape} must both be [${d}]`);
        }
        const size = tf.util.sizeFromShape(x.shape), rows = d > 0 ? size / d : 0;
        const y = allocF32(b, size),
          mean = new Float32Array(rows),
          rstd = new Float32Array(rows);
        lnForward(
          float32Values(b, x),
          float32Values(b, w),
          float32Values(b, bias),
          (attrs as { eps: number }).eps,
          y,
          mean,
          rstd,
        );
        const rowShape = x.shape.slice(0, -1);
        return [
          b.makeTensorInfo(x.shape, "float32", y),
          b.makeTensorInfo(rowShape, "float32", mean),
          b.makeTensorInfo(rowShape, "float32", rstd),
        ];
      },
    },
    {
      kernelName: LAYER_NORM_GRAD,
      backendName,
      kernelFunc: ({ inputs, backend }) => {
        const b = backend as MathBackendCPU;
        const x = inputs.x as Info, w = inputs.weight as Info;
        const size = tf.util.sizeFromShape(x.shape), d = w.shape[0]!;
        const dx = allocF32(b, size), dw = new Float32Array(d), db = new Float32Array(d);
        lnBackward(
          float32Values(b, inputs.dy as Info),
          float32Values(b, x),
          float32Values(b, w),
          float32Values(b, inputs.mean as Info),
          float32Values(b, inputs.rstd as Info),
          dx,
          dw,
          db,
        );
        return [
          b.makeTensorInfo(x.shape, "float32", dx),
          b.makeTensorInfo([d], "float32", dw),
          b.makeTensorInfo([d], "float32", db),
        ];
      },
    },
  ];
}
