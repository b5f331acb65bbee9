/**
 * The system BLAS (OpenBLAS) through Deno's FFI: row-major `sgemm` on
 * Float32Array views, and the thread count. Loaded lazily by
 * {@link loadBlas}; nothing here touches tfjs.
 *
 * @module
 */

const CBLAS_ROW_MAJOR = 101;
const CBLAS_NO_TRANS = 111;
const CBLAS_TRANS = 112;

const SYMBOLS = {
  cblas_sgemm: {
    // order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc
    parameters: [
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "i32",
      "f32",
      "buffer",
      "i32",
      "buffer",
      "i32",
      "f32",
      "buffer",
      "i32",
    ],
    result: "void",
  },
} as const;

const OPTIONAL_SYMBOLS = {
  openblas_get_num_threads: { parameters: [], result: "i32", optional: true },
  openblas_set_num_threads: { parameters: ["i32"], result: "void", optional: true },
  openblas_get_config: { parameters: [], result: "pointer", optional: true },
} as const;

/** Where the BLAS is looked for, in order (ATST_BLAS, when set, comes first). */
export const BLAS_CANDIDATES: readonly string[] = [
  "libopenblas.so.0",
  "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
  "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
  "libopenblas.so",
  "libopenblas.dylib",
  "libblas.so.3",
];

/** A loaded BLAS. */
export interface Blas {
  /** The file name that opened. */
  path: string;
  /** OpenBLAS's build string when it has one (e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ..."). */
  config: string;
  /** Threads the BLAS uses for large products (1 when it cannot tell). */
  threads: number;
  /** Sets the BLAS's thread count (no-op for a BLAS without openblas_set_num_threads). */
  setThreads(n: number): void;
  /**
   * Row-major C = alpha * op(A) op(B) + beta * C with op(A) [m, k], op(B) [k, n].
   * `a`, `b`, `c` are views whose first element is the matrix's first element.
   */
  sgemm(
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    alpha: number,
    a: Float32Array,
    lda: number,
    b: Float32Array,
    ldb: number,
    beta: number,
    c: Float32Array,
    ldc: number,
  ): void;
}

let cached: Blas | string | undefined;

/**
 * Opens the first BLAS of {@link BLAS_CANDIDATES} (or `$ATST_BLAS`) that
 * has `cblas_sgemm`; returns it, or a one-line reason why none could be used.
 * The result is cached.
 */
export function loadBlas(): Blas | string {
  if (cached !== undefined) return cached;
  cached = open();
  return cached;
}

function open(): Blas | string {
  const override = Deno.env.get("ATST_BLAS");
  const candidates = override ? [override] : BLAS_CANDIDATES;
  const failures: string[] = [];
  for (const path of candidates) {
    let lib;
    try {
      lib = Deno.dlopen(path, { ...SYMBOLS, ...OPTIONAL_SYMBOLS });
    } catch (err) {
      const msg = (err as Error).message;
      if (err instanceof Deno.errors.NotCapable || /permission|allow-ffi/i.test(msg)) {
        return "FFI is not permitted (run with --allow-ffi or -A)";
      }
      failures.push(`${path}: ${msg.split("\n")[0]}`);
      continue;
    }
    const s = lib.symbols;
    const config = s.openblas_get_config ? readCString(s.openblas_get_config()) : "";
    const threads = s.openblas_get_num_threads ? s.openblas_get_num_threads() : 1;
    const gemm = s.cblas_sgemm;
    const set = s.openblas_set_num_threads;
    let current = threads;
    return {
      path,
      config,
      threads,
      setThreads(n) {
        if (set && n !== current) {
          set(n);
          current = n;
        }
      },
      sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
        gemm(
          CBLAS_ROW_MAJOR,
          transA ? CBLAS_TRANS : CBLAS_NO_TRANS,
          transB ? CBLAS_TRANS : CBLAS_NO_TRANS,
          m,
          n,
          k,
          alpha,
          a,
          lda,
          b,
          ldb,
          beta,
          c,
          ldc,
        );
      },
    };
  }
  return `no BLAS library with cblas_sgemm found (${failures.join("; ")}); ` +
    "install Debian's libopenblas0 or set ATST_BLAS to its path";
}

function readCString(p: Deno.PointerValue): string {
  if (p === null) return "";
  return new Deno.UnsafePointerView(p).getCString();
}
