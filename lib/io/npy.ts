/**
 * NumPy `.npy` (format version 1.0) reader and writer for float32, float64
 * and int32 arrays, C order. Other tools read these with `numpy.load`.
 *
 * @module
 */
import { writeFileAtomic } from "./atomic.ts";

/** An n-dimensional array read from or written to `.npy`. */
export interface NpyArray {
  shape: number[];
  data: Float32Array | Float64Array | Int32Array;
}

const DESCR: Record<string, string> = {
  Float32Array: "<f4",
  Float64Array: "<f8",
  Int32Array: "<i4",
};

/**
 * The `.npy` header (magic, version, length, dict) of an array of `shape`
 * holding `kind` values, for writers that stream the data after it.
 *
 * @example
 * ```ts
 * const head = npyHeader([90000, 384], "Float32Array"); // then 90000 * 384 float32 values
 * ```
 */
export function npyHeader(shape: number[], kind: string): Uint8Array {
  const descr = DESCR[kind];
  if (!descr) throw new Error(`Cannot write .npy of ${kind}`);
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${dims}, }`;
  // Header length (incl. magic, version, length field and newline) is padded to 64 bytes.
  const pad = 64 - ((10 + header.length + 1) % 64);
  header += " ".repeat(pad % 64) + "\n";
  const out = new Uint8Array(10 + header.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  return out;
}

/** Serialises an array to `.npy` bytes. */
export function encodeNpy(arr: NpyArray): Uint8Array {
  const count = arr.shape.reduce((a, b) => a * b, 1);
  if (count !== arr.data.length) {
    throw new Error(`Shape [${arr.shape}] does not match ${arr.data.length} values`);
  }
  const head = npyHeader(arr.shape, arr.data.constructor.name);
  const out = new Uint8Array(head.length + arr.data.byteLength);
  out.set(head);
  out.set(new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength), head.length);
  return out;
}

/** Parses `.npy` bytes (versions 1.0-3.0; <f4, <f8, <i4, <i8 as float64, |b1/|u1 as int32). */
export function decodeNpy(bytes: Uint8Array, name = "array"): NpyArray {
  if (
    bytes.length < 10 || bytes[0] !== 0x93 ||
    String.fromCharCode(...bytes.subarray(1, 6)) !== "NUMPY"
  ) {
    throw new Error(`'${name}' is not a .npy file`);
  }
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const hstart = major === 1 ? 10 : 12;
  const header = new TextDecoder().decode(bytes.subarray(hstart, hstart + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeStr === undefined) throw new Error(`'${name}': bad .npy header`);
  if (fortran === "True") throw new Error(`'${name}': Fortran-order .npy is not supported`);
  const shape = shapeStr.split(",").map((s) => s.trim()).filter((s) => s).map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const start = hstart + hlen;
  const body = bytes.slice(start); // copy: aligned buffer
  switch (descr) {
    case "<f4":
      return { shape, data: new Float32Array(body.buffer, 0, count) };
    case "<f8":
      return { shape, data: new Float64Array(body.buffer, 0, count) };
    case "<i4":
      return { shape, data: new Int32Array(body.buffer, 0, count) };
    case "<i8": {
      const src = new BigInt64Array(body.buffer, 0, count);
      return { shape, data: Float64Array.from(src, (v) => Number(v)) };
    }
    case "|b1":
    case "|u1":
      return { shape, data: Int32Array.from(body.subarray(0, count)) };
    default:
      throw new Error(`'${name}': unsupported .npy dtype ${descr}`);
  }
}

/** Reads a `.npy` file. */
export async function readNpy(path: string): Promise<NpyArray> {
  return decodeNpy(await Deno.readFile(path), path);
}

/** Writes a `.npy` file atomically. */
export async function writeNpy(path: string, arr: NpyArray): Promise<void> {
  await writeFileAtomic(path, encodeNpy(arr));
}
