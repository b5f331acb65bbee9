/**
 * The native backend's tensor storage: tfjs's cpu backend plus a pool of
 * large float32 buffers that freed tensors hand back to the next kernel
 * of the same size.
 *
 * Why: a fresh multi-megabyte Float32Array is memory the kernel must map
 * and zero page by page on first touch. An encoder forward allocates a few
 * hundred MB that way per batch, and the page faults showed as a large
 * share of system time. A forward or training step repeats the same
 * shapes, so exact-size reuse hits nearly always.
 *
 * Safety: a buffer is reused only when no live tensor refers to any part of
 * it (views made by slicing count as references) and it was never handed
 * out of the backend (`readSync`/`read`, i.e. `dataSync()`/`data()`), since
 * the caller may still hold that array.
 *
 * @module
 */
import type { tf } from "../tf.ts";
import { MathBackendCPU } from "@tensorflow/tfjs-backend-cpu";

/** Buffers smaller than this (elements) come from V8's heap as usual. */
const MIN_POOLED = 1 << 14;
/** Freed bytes kept for reuse at most; beyond it freed buffers go to the GC. */
const MAX_FREE_BYTES = 512 * 2 ** 20;

/** tfjs's cpu backend whose large float32 outputs come from a reuse pool. */
export class PooledCpuBackend extends MathBackendCPU {
  #free = new Map<number, Float32Array[]>();
  #freeBytes = 0;
  /** Live tensors referring to each pooled buffer (directly or through a view). */
  #refs = new WeakMap<ArrayBufferLike, number>();
  /** Buffers given out of the backend: never reused. */
  #escaped = new WeakSet<ArrayBufferLike>();

  /**
   * A Float32Array of `n` elements with undefined contents (the caller
   * overwrites all of it): a recycled buffer when one of that size is free.
   */
  allocF32(n: number): Float32Array {
    if (n < MIN_POOLED) return new Float32Array(n);
    const list = this.#free.get(n);
    const reused = list?.pop();
    if (reused) {
      this.#freeBytes -= reused.byteLength;
      return reused;
    }
    const fresh = new Float32Array(n);
    this.#refs.set(fresh.buffer, 0);
    return fresh;
  }

  /** Bytes of freed buffers held for reuse. */
  get pooledBytes(): number {
    return this.#freeBytes;
  }

  /** Drops every held buffer (for tests and memory pressure). */
  releasePool(): void {
    this.#free.clear();
    this.#freeBytes = 0;
  }

  override write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType) {
    this.#retain(values);
    return super.write(values, shape, dtype);
  }

  override move(
    dataId: object,
    values: tf.backend_util.BackendValues,
    shape: number[],
    dtype: tf.DataType,
    refCount: number,
  ): void {
    this.#retain(values);
    super.move(dataId, values, shape, dtype, refCount);
  }

  override readSync(dataId: object): tf.backend_util.BackendValues {
    const values = super.readSync(dataId);
    if (ArrayBuffer.isView(values)) this.#escaped.add(values.buffer);
    return values;
  }

  override read(dataId: object): Promise<tf.backend_util.BackendValues> {
    return Promise.resolve(this.readSync(dataId));
  }

  override disposeData(dataId: object, force = false): boolean {
    const values = this.data.get(dataId)?.values;
    const gone = super.disposeData(dataId, force);
    if (gone && values && ArrayBuffer.isView(values)) this.#release(values.buffer);
    return gone;
  }

  override dispose(): void {
    this.releasePool();
    super.dispose();
  }

  #retain(values: unknown): void {
    if (!ArrayBuffer.isView(values)) return;
    const count = this.#refs.get(values.buffer);
    if (count !== undefined) this.#refs.set(values.buffer, count + 1);
  }

  #release(buffer: ArrayBufferLike): void {
    const count = this.#refs.get(buffer);
    if (count === undefined) return;
    this.#refs.set(buffer, count - 1);
    if (count - 1 > 0 || this.#escaped.has(buffer)) return;
    if (this.#freeBytes + buffer.byteLength > MAX_FREE_BYTES) return;
    const n = buffer.byteLength / 4;
    const list = this.#free.get(n) ?? [];
    list.push(new Float32Array(buffer));
    this.#free.set(n, list);
    this.#freeBytes += buffer.byteLength;
  }
}

/**
 * A Float32Array of `n` elements whose contents the caller fully
 * overwrites: from the pool on a {@link PooledCpuBackend}, fresh otherwise.
 */
export function allocF32(backend: unknown, n: number): Float32Array {
  return backend instanceof PooledCpuBackend ? backend.allocF32(n) : new Float32Array(n);
}
