/**
 * The safetensors container (https://github.com/huggingface/safetensors):
 * an 8-byte little-endian header length, a JSON header mapping each tensor
 * name to `{dtype, shape, data_offsets}` plus an optional string-to-string
 * `__metadata__`, then the raw little-endian tensor bytes. One reader and
 * one writer, side by side.
 *
 * @module
 */

/** A float32 tensor in row-major (C) order. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

/** Dtypes the reader converts to float32, and the writer can emit. */
export type StDtype = "F32" | "F16" | "BF16" | "F64";

const BYTES: Record<StDtype, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** What {@link readSafetensors} returns. */
export interface Safetensors {
  tensors: Map<string, HostTensor & { dtype: string }>;
  metadata: Record<string, string>;
}

/**
 * Serialises float32 tensors (written as `dtype`, default F32) with string
 * metadata. Tensor data is 8-byte aligned after the header, as the
 * reference implementation writes it.
 *
 * @example
 * ```ts
 * const bytes = writeSafetensors(new Map([["w", { shape: [2], data: new Float32Array(2) }]]), { a: "b" });
 * ```
 */
export function writeSafetensors(
  tensors: Map<string, HostTensor>,
  metadata: Record<string, string> = {},
  opts: { dtype?: StDtype } = {},
): Uint8Array {
  const dtype = opts.dtype ?? "F32";
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, t] of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new Error(
        `Tensor '${name}': shape [${t.shape}] does not match ${t.data.length} values`,
      );
    }
    const len = count * BYTES[dtype];
    header[name] = { dtype, shape: t.shape, data_offsets: [offset, offset + len] };
    offset += len;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + json.length) % 8)) % 8);
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let pos = 8 + head.length;
  for (const t of tensors.values()) {
    pos = encodeInto(out, dv, pos, t.data, dtype);
  }
  return out;
}

function encodeInto(out: Uint8Array, dv: DataView, pos: number, src: Float32Array, dtype: StDtype) {
  switch (dtype) {
    case "F32":
      out.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), pos);
      return pos + src.byteLength;
    case "F64":
      for (let i = 0; i < src.length; i++, pos += 8) dv.setFloat64(pos, src[i]!, true);
      return pos;
    case "F16":
      for (let i = 0; i < src.length; i++, pos += 2) dv.setUint16(pos, toHalf(src[i]!), true);
      return pos;
    case "BF16": {
      const u = new Uint32Array(Float32Array.from(src).buffer);
      // Round to nearest even on the dropped 16 bits.
      for (let i = 0; i < u.length; i++, pos += 2) {
        const x = u[i]!;
        dv.setUint16(pos, (x + 0x7fff + ((x >>> 16) & 1)) >>> 16, true);
      }
      return pos;
    }
  }
}

/**
 * Parses safetensors bytes, converting F16/BF16/F64 tensors to float32.
 * Throws an Error naming the first problem (the caller adds the file name).
 */
export function readSafetensors(bytes: Uint8Array): Safetensors {
  if (bytes.length < 8) throw new Error("file is shorter than the 8-byte header length");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = Number(dv.getBigUint64(0, true));
  if (hlen <= 1 || 8 + hlen > bytes.length || bytes[8] !== 0x7b /* { */) {
    throw new Error("not a safetensors file (bad header length)");
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + hlen)),
    );
  } catch (err) {
    throw new Error(`unreadable safetensors header: ${(err as Error).message}`);
  }
  const body = 8 + hlen;
  const metadata = (header.__metadata__ ?? {}) as Record<string, string>;
  const tensors: Safetensors["tensors"] = new Map();
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const info = raw as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const { dtype, shape, data_offsets: off } = info;
    if (typeof dtype !== "string" || !Array.isArray(shape) || !Array.isArray(off)) {
      throw new Error(`tensor '${name}' has an incomplete header entry`);
    }
    if (!(dtype in BYTES)) {
      throw new Error(
        `tensor '${name}' has dtype ${dtype}; only F32, F16, BF16 and F64 are supported`,
      );
    }
    const count = shape.reduce((a, b) => a * b, 1);
    const [start, end] = off;
    if (end - start !== count * BYTES[dtype as StDtype] || body + end > bytes.length || start < 0) {
      throw new Error(`tensor '${name}' data is truncated or its offsets do not match its shape`);
    }
    const data = decode(bytes.subarray(body + start, body + end), dtype as StDtype, count);
    tensors.set(name, { dtype, shape, data });
  }
  return { tensors, metadata };
}

/** Decodes `count` little-endian values of `dtype` to float32. */
export function decode(src: Uint8Array, dtype: StDtype | "F32", count: number): Float32Array {
  const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
  const out = new Float32Array(count);
  switch (dtype) {
    case "F32":
      out.set(new Float32Array(src.slice(0, count * 4).buffer));
      break;
    case "F64":
      for (let i = 0; i < count; i++) out[i] = dv.getFloat64(8 * i, true);
      break;
    case "F16":
      for (let i = 0; i < count; i++) out[i] = fromHalf(dv.getUint16(2 * i, true));
      break;
    case "BF16": {
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < count; i++) u[i] = dv.getUint16(2 * i, true) << 16;
      break;
    }
  }
  return out;
}

function fromHalf(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

function toHalf(x: number): number {
  const s = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  if (Number.isNaN(x)) return 0x7e00;
  if (a >= 65520) return s | 0x7c00;
  if (a < 2 ** -24 / 2) return s;
  if (a < 2 ** -14) return s | Math.round(a / 2 ** -24);
  let e = Math.floor(Math.log2(a));
  let m = Math.round((a / 2 ** e - 1) * 1024);
  if (m === 1024) {
    m = 0;
    e++;
  }
  return s | ((e + 15) << 10) | m;
}
