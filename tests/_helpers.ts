/**
 * Small test helpers (JSR `@std/assert` is not reachable here; these sit on
 * `node:assert/strict`).
 *
 * @module
 */
import { fileURLToPath as fromFileUrl } from "node:url";
import { decodeNpy, type NpyArray } from "../lib/io/npy.ts";
import { tf } from "../lib/backend/tf.ts";

/** Absolute path of a file under fixtures/. */
export function fixture(...parts: string[]): string {
  return fromFileUrl(new URL(`../fixtures/${parts.join("/")}`, import.meta.url));
}

/** Absolute path of the repository root. */
export const ROOT: string = fromFileUrl(new URL("../", import.meta.url));

/** Reads a committed .npy fixture. */
export function readFixtureNpy(...parts: string[]): NpyArray {
  return decodeNpy(Deno.readFileSync(fixture(...parts)), parts.join("/"));
}

/** Max |a - b| over two equal-length arrays. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`Length mismatch: ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** ||a - b|| / ||b|| (b is the reference). */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`Length mismatch: ${a.length} vs ${b.length}`);
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - b[i]!;
    num += d * d;
    den += b[i]! * b[i]!;
  }
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}

/** Throws unless `actual <= limit`, with a message naming the quantity. */
export function assertAtMost(actual: number, limit: number, what: string): void {
  if (!(actual <= limit)) throw new Error(`${what}: ${actual} exceeds ${limit}`);
}

/**
 * Runs `fn` and asserts it leaves no new tfjs tensors behind.
 */
export async function assertNoTensorLeak(
  fn: () => Promise<void> | void,
  what = "fn",
): Promise<void> {
  const before = tf.memory().numTensors;
  await fn();
  const after = tf.memory().numTensors;
  if (after !== before) throw new Error(`${what} leaked ${after - before} tensors`);
}

/**
 * Runs the CLI (`deno run -A main.ts ...args`) and captures its output;
 * `wrapper` runs it under another program (e.g. setpriv).
 */
export async function runCli(
  args: string[],
  opts: { stdin?: string; cwd?: string; env?: Record<string, string>; wrapper?: string[] } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const argv = [Deno.execPath(), "run", "-A", `${ROOT}main.ts`, ...args];
  const [program, ...rest] = [...(opts.wrapper ?? []), ...argv];
  const cmd = new Deno.Command(program!, {
    args: rest,
    cwd: opts.cwd ?? ROOT,
    stdin: opts.stdin !== undefined ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...opts.env },
  });
  const child = cmd.spawn();
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** The WAV writers, for the tests that write audio. */
/** Joins a stream of sample chunks into one array (to compare with a whole-file decode). */
export async function concatChunks(parts: AsyncIterable<Float32Array>): Promise<Float32Array> {
  const all: Float32Array[] = [];
  for await (const p of parts) all.push(p);
  const out = new Float32Array(all.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of all) out.set(p, (at += p.length) - p.length);
  return out;
}

export { floatWav, pcm16Wav } from "../lib/io/wav.ts";
