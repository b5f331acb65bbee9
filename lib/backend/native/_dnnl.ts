/**
 * oneDNN (libdnnl.so.2, the v2 C API) through Deno's FFI, for the
 * elementwise work that is transcendental-heavy and worth threads and SIMD:
 * softmax forward and exact-GELU forward/backward on float32 row-major
 * buffers. Primitives are created once per shape and cached. Struct sizes
 * and enum values below are those of oneDNN 2.x's dnnl_types.h (checked
 * against Debian's libdnnl-dev 2.6.3); each descriptor buffer is allocated
 * with room to spare.
 *
 * @module
 */

import type { Blas } from "./_blas.ts";

const F32 = 3; // dnnl_f32
const CPU = 1; // dnnl_cpu
const FORWARD_TRAINING = 64;
const FORWARD_INFERENCE = 96;
const GELU_ERF = 48; // dnnl_eltwise_gelu_erf
const SOFTMAX_ACCURATE = 0x30000;
const ARG_SRC = 1, ARG_DST = 17, ARG_DIFF_SRC = 129, ARG_DIFF_DST = 145;
const TAG_AB = 3; // row-major 2-D
const MD_BYTES = 1024; // sizeof(dnnl_memory_desc_t) is 696 in 2.6
const OP_DESC_BYTES = 8192; // largest used: softmax_v2 2800

const SYMBOLS = {
  dnnl_engine_create: { parameters: ["buffer", "i32", "usize"], result: "i32" },
  dnnl_stream_create: { parameters: ["buffer", "pointer", "u32"], result: "i32" },
  dnnl_stream_wait: { parameters: ["pointer"], result: "i32" },
  dnnl_memory_desc_init_by_tag: {
    parameters: ["buffer", "i32", "buffer", "i32", "i32"],
    result: "i32",
  },
  dnnl_eltwise_forward_desc_init: {
    parameters: ["buffer", "i32", "i32", "buffer", "f32", "f32"],
    result: "i32",
  },
  dnnl_eltwise_backward_desc_init: {
    parameters: ["buffer", "i32", "buffer", "buffer", "f32", "f32"],
    result: "i32",
  },
  dnnl_softmax_v2_forward_desc_init: {
    parameters: ["buffer", "i32", "i32", "buffer", "buffer", "i32"],
    result: "i32",
  },
  dnnl_primitive_desc_create: {
    parameters: ["buffer", "buffer", "pointer", "pointer", "pointer"],
    result: "i32",
  },
  dnnl_primitive_create: { parameters: ["buffer", "pointer"], result: "i32" },
  dnnl_memory_create: { parameters: ["buffer", "buffer", "pointer", "pointer"], result: "i32" },
  dnnl_memory_set_data_handle: { parameters: ["pointer", "pointer"], result: "i32" },
  dnnl_primitive_execute: { parameters: ["pointer", "pointer", "i32", "buffer"], result: "i32" },
  dnnl_sgemm: {
    parameters: [
      "u8",
      "u8",
      "i64",
      "i64",
      "i64",
      "f32",
      "buffer",
      "i64",
      "buffer",
      "i64",
      "f32",
      "buffer",
      "i64",
    ],
    result: "i32",
  },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** Library names tried in order (ATST_DNNL, when set, alone). */
export const DNNL_CANDIDATES: readonly string[] = [
  "libdnnl.so.2",
  "/usr/lib/x86_64-linux-gnu/libdnnl.so.2",
  "libdnnl.so",
];

/** A primitive with its argument memories, ready to run on new buffers. */
interface Prim {
  prim: Deno.PointerValue;
  mems: Deno.PointerValue[];
  args: Uint8Array;
}

/** The oneDNN operations the native backend uses. */
export interface Dnnl {
  path: string;
  /** Row-wise softmax of x viewed as [rows, n] into out. */
  softmax(x: Float32Array, n: number, out: Float32Array): void;
  /** out = 0.5 x (1 + erf(x / sqrt 2)). */
  gelu(x: Float32Array, out: Float32Array): void;
  /** dx = dy * GELU'(x). */
  geluGrad(dy: Float32Array, x: Float32Array, dx: Float32Array): void;
  /** Row-major C = alpha op(A) op(B) + beta C, as {@link Blas.sgemm} (oneDNN's JIT kernels). */
  sgemm: Blas["sgemm"];
}

let cached: Dnnl | string | undefined;

/** Opens oneDNN, or returns a one-line reason why not (cached). */
export function loadDnnl(): Dnnl | string {
  cached ??= open();
  return cached;
}

function check(status: number, what: string): void {
  if (status !== 0) throw new Error(`oneDNN ${what} failed with status ${status}`);
}

function outPtr(f: (p: BigUint64Array) => number, what: string): Deno.PointerValue {
  const p = new BigUint64Array(1);
  check(f(p), what);
  return Deno.UnsafePointer.create(p[0]!);
}

function open(): Dnnl | string {
  const override = Deno.env.get("ATST_DNNL");
  const failures: string[] = [];
  for (const path of override ? [override] : DNNL_CANDIDATES) {
    let lib: Lib;
    try {
      lib = Deno.dlopen(path, SYMBOLS).symbols;
    } catch (err) {
      failures.push(`${path}: ${(err as Error).message.split("\n")[0]}`);
      continue;
    }
    try {
      return make(lib, path);
    } catch (err) {
      failures.push(`${path}: ${(err as Error).message}`);
    }
  }
  return `oneDNN not usable (${failures.join("; ")}); install Debian's libdnnl2 or set ATST_DNNL`;
}

function make(lib: Lib, path: string): Dnnl {
  const engine = outPtr((p) => lib.dnnl_engine_create(p, CPU, 0n), "engine_create");
  const stream = outPtr((p) => lib.dnnl_stream_create(p, engine, 1), "stream_create");
  const cache = new Map<string, Prim>();

  const md2d = (rows: number, n: number): Uint8Array => {
    const md = new Uint8Array(MD_BYTES);
    check(
      lib.dnnl_memory_desc_init_by_tag(
        md,
        2,
        new BigInt64Array([BigInt(rows), BigInt(n)]),
        F32,
        TAG_AB,
      ),
      "memory_desc_init",
    );
    return md;
  };
  const pd = (desc: Uint8Array, hint: Deno.PointerValue = null) =>
    outPtr(
      (p) => lib.dnnl_primitive_desc_create(p, desc, null, engine, hint),
      "primitive_desc_create",
    );
  const prim = (pdesc: Deno.PointerValue, md: Uint8Array, argIds: number[]): Prim => {
    const p = outPtr((o) => lib.dnnl_primitive_create(o, pdesc), "primitive_create");
    const mems = argIds.map(() =>
      outPtr((o) => lib.dnnl_memory_create(o, md, engine, null), "memory_create")
    );
    const args = new Uint8Array(16 * argIds.length);
    const view = new DataView(args.buffer);
    argIds.forEach((id, i) => {
      view.setInt32(16 * i, id, true);
      view.setBigUint64(16 * i + 8, BigInt(Deno.UnsafePointer.value(mems[i]!)), true);
    });
    return { prim: p, mems, args };
  };
  const run = (pr: Prim, bufs: Float32Array[]) => {
    bufs.forEach((b, i) =>
      check(
        lib.dnnl_memory_set_data_handle(pr.mems[i]!, Deno.UnsafePointer.of(b)),
        "set_data_handle",
      )
    );
    check(lib.dnnl_primitive_execute(pr.prim, stream, pr.mems.length, pr.args), "execute");
    check(lib.dnnl_stream_wait(stream), "stream_wait");
  };
  // Elementwise ops see the buffer as [rows, 256]-ish 2-D; any split of the length works.
  const flat = (len: number): [number, number] => (len % 64 === 0 ? [len / 64, 64] : [1, len]);

  const geluFwd = (rows: number, n: number) => {
    const key = `gelu ${rows} ${n}`;
    let p = cache.get(key);
    if (!p) {
      const md = md2d(rows, n), desc = new Uint8Array(OP_DESC_BYTES);
      check(
        lib.dnnl_eltwise_forward_desc_init(desc, FORWARD_TRAINING, GELU_ERF, md, 0, 0),
        "eltwise_forward_desc_init",
      );
      p = prim(pd(desc), md, [ARG_SRC, ARG_DST]);
      cache.set(key, p);
    }
    return p;
  };

  const T = 84, N = 78; // 'T', 'N'
  return {
    path,
    sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
      check(
        lib.dnnl_sgemm(
          transA ? T : N,
          transB ? T : N,
          BigInt(m),
          BigInt(n),
          BigInt(k),
          alpha,
          a,
          BigInt(lda),
          b,
          BigInt(ldb),
          beta,
          c,
          BigInt(ldc),
        ),
        "sgemm",
      );
    },
    softmax(x, n, out) {
      const rows = x.length / n;
      if (rows === 0) return;
      const key = `softmax ${rows} ${n}`;
      let p = cache.get(key);
      if (!p) {
        const md = md2d(rows, n), desc = new Uint8Array(OP_DESC_BYTES);
        check(
          lib.dnnl_softmax_v2_forward_desc_init(
            desc,
            FORWARD_INFERENCE,
            SOFTMAX_ACCURATE,
            md,
            md,
            1,
          ),
          "softmax_desc_init",
        );
        p = prim(pd(desc), md, [ARG_SRC, ARG_DST]);
        cache.set(key, p);
      }
      run(p, [x, out]);
    },
    gelu(x, out) {
      if (x.length === 0) return;
      const [rows, n] = flat(x.length);
      run(geluFwd(rows, n), [x, out]);
    },
    geluGrad(dy, x, dx) {
      if (x.length === 0) return;
      const [rows, n] = flat(x.length);
      const key = `gelu_bwd ${rows} ${n}`;
      let p = cache.get(key);
      if (!p) {
        const md = md2d(rows, n),
          fdesc = new Uint8Array(OP_DESC_BYTES),
          bdesc = new Uint8Array(OP_DESC_BYTES);
        check(
          lib.dnnl_eltwise_forward_desc_init(fdesc, FORWARD_TRAINING, GELU_ERF, md, 0, 0),
          "eltwise_forward_desc_init",
        );
        check(
          lib.dnnl_eltwise_backward_desc_init(bdesc, GELU_ERF, md, md, 0, 0),
          "eltwise_backward_desc_init",
        );
        p = prim(pd(bdesc, pd(fdesc)), md, [ARG_SRC, ARG_DIFF_DST, ARG_DIFF_SRC]);
        cache.set(key, p);
      }
      run(p, [x, dy, dx]);
    },
  };
}
