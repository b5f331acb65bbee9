/**
 * The one way every command finds audio: command-line inputs become a list
 * of audio files: files, folders (searched recursively for
 * {@link AUDIO_EXTENSIONS}, sorted, links followed: lib/io/walk.ts),
 * `@list.txt` files (one path per line) and `-` (paths on stdin, one per
 * line). Problems (missing paths, unreadable folders) come back as
 * InputError entries so a batch can report them and go on. Also here:
 * `--shard K/N`, and the rule for output paths that mirror input paths.
 *
 * @module
 */
import { extname, isAbsolute, join, normalize, relative, resolve, sep } from "node:path";
import { InputError, UserError } from "../errors.ts";
import { exists } from "../io/atomic.ts";
import { fsReason, listFilesSorted, type WalkOptions } from "../io/walk.ts";

/** One audio file to process. */
export interface InputFile {
  /** The path as given (or joined from the folder it was found in). */
  path: string;
  /**
   * Relative path used to mirror outputs: inside a folder argument, the path
   * below that folder; for a file argument, the path as given when it is
   * relative and does not leave the working folder, else its base name.
   * Unique within one expansion.
   */
  rel: string;
}

/** File extensions picked up when searching folders (lower case, no dot). */
export const AUDIO_EXTENSIONS: ReadonlySet<string> = new Set([
  "wav",
  "wave",
  "flac",
  "mp3",
  "ogg",
  "oga",
  "opus",
  "m4a",
  "mp4",
  "aac",
  "aif",
  "aiff",
  "webm",
  "caf",
  "qoa",
  "amr",
  "wma",
]);

/** Options of {@link expandInputs}. */
export interface ExpandOptions {
  /** Where `-` reads paths from (default: Deno.stdin). */
  stdin?: ReadableStream<Uint8Array>;
}

/** True when `name` ends in one of {@link AUDIO_EXTENSIONS} (any case). */
export function hasAudioExtension(name: string): boolean {
  const dot = name.lastIndexOf(".");
  return dot > 0 && AUDIO_EXTENSIONS.has(name.slice(dot + 1).toLowerCase());
}

/**
 * The audio files under `dir`, sorted, links followed (lib/io/walk.ts): what
 * every command finds in a folder.
 *
 * @example
 * ```ts
 * const errors: InputError[] = [];
 * const paths = await findAudioFiles("clips", { errors });
 * ```
 */
export function findAudioFiles(dir: string, opts: WalkOptions = {}): Promise<string[]> {
  return listFilesSorted(dir, { file: hasAudioExtension }, opts);
}

/** Non-empty, non-comment lines of a path list. */
function listLines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "" && !l.startsWith("#"));
}

function relForFile(path: string): string {
  const norm = normalize(path);
  if (!isAbsolute(norm) && norm !== ".." && !norm.startsWith(`..${sep}`)) return norm;
  return norm.split(sep).filter((p) => p !== "").pop() ?? norm;
}

/**
 * Expands CLI inputs into files (in argument order; folder contents
 * sorted) and per-input errors. Duplicate files are kept once; two
 * different files that would mirror to the same `rel` make an error for the
 * second. Paths in `@list` files and on stdin are taken relative to the
 * working folder, exactly as if typed on the command line; blank lines and
 * lines starting with `#` are skipped.
 *
 * @example
 * ```ts
 * const { files, errors } = await expandInputs(["data/", "@more.txt", "x.wav"]);
 * for (const e of errors) console.error(e.message);
 * ```
 */
export async function expandInputs(
  args: string[],
  opts: ExpandOptions = {},
): Promise<{ files: InputFile[]; errors: InputError[] }> {
  const files: InputFile[] = [];
  const errors: InputError[] = [];
  const seenPaths = new Set<string>();
  const relOwner = new Map<string, string>();
  const visitedDirs = new Set<string>();

  const add = (path: string, rel: string) => {
    const abs = resolve(path);
    if (seenPaths.has(abs)) return;
    seenPaths.add(abs);
    const owner = relOwner.get(rel);
    if (owner !== undefined) {
      errors.push(new InputError(path, `its output name '${rel}' is already used by '${owner}'`));
      return;
    }
    relOwner.set(rel, path);
    files.push({ path, rel });
  };

  const expandOne = async (arg: string, fromList: boolean): Promise<void> => {
    if (arg === "-" && !fromList) {
      const stream = opts.stdin ?? Deno.stdin.readable;
      const text = await new Response(stream).text();
      for (const line of listLines(text)) await expandOne(line, true);
      return;
    }
    if (arg.startsWith("@") && !fromList) {
      const listPath = arg.slice(1);
      let text: string;
      try {
        text = await Deno.readTextFile(listPath);
      } catch (err) {
        errors.push(new InputError(listPath, `cannot read list: ${fsReason(err)}`));
        return;
      }
      for (const line of listLines(text)) await expandOne(line, true);
      return;
    }
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(arg);
    } catch (err) {
      errors.push(new InputError(arg, fsReason(err)));
      return;
    }
    if (st.isDirectory) {
      const found = await findAudioFiles(arg, { errors, visited: visitedDirs });
      for (const f of found) add(f, relative(arg, f));
    } else {
      add(arg, relForFile(arg));
    }
  };

  for (const arg of args) await expandOne(arg, false);
  return { files, errors };
}

/**
 * Shard `k` of `n` (1-based) of `items`: every n-th item starting at k - 1,
 * so shards are disjoint, cover everything, and differ in size by at most 1.
 *
 * @example
 * ```ts
 * shard(["a", "b", "c", "d", "e"], 2, 2); // ["b", "d"]
 * ```
 */
export function shard<T>(items: T[], k: number, n: number): T[] {
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(k) || k < 1 || k > n) {
    throw new RangeError(`Shard must be k/n with 1 <= k <= n, got ${k}/${n}`);
  }
  return items.filter((_, i) => i % n === k - 1);
}

/**
 * Parses `--shard K/N` (1-based K); no flag is the one shard 1/1.
 *
 * @example
 * ```ts
 * const [k, n] = parseShard("2/4"); // [2, 4]
 * ```
 */
export function parseShard(spec: string | undefined): [number, number] {
  if (spec === undefined) return [1, 1];
  const m = /^(\d+)\/(\d+)$/.exec(spec.trim());
  const k = Number(m?.[1]), n = Number(m?.[2]);
  if (!m || n < 1 || k < 1 || k > n) {
    throw new UserError(`Flag --shard expects K/N with 1 <= K <= N, got '${spec}'`);
  }
  return [k, n];
}

/**
 * Where the output for an input with relative path `rel` goes under
 * `outDir`: the same relative path with its extension replaced by `ext`
 * (default `.npy`: `sub/a.wav` -> `outDir/sub/a.npy`). A leading `/` or `../` is dropped so
 * the output stays inside `outDir`.
 *
 * @example
 * ```ts
 * mirrorPath("feats", "sub/a.wav"); // "feats/sub/a.npy"
 * ```
 */
export function mirrorPath(outDir: string, rel: string, opts: { ext?: string } = {}): string {
  const clean = normalize(rel).replace(/^([/\\]|\.\.([/\\]|$))+/, "");
  const old = extname(clean);
  return join(outDir, (old ? clean.slice(0, -old.length) : clean) + (opts.ext ?? ".npy"));
}

/** One input with the path of its mirrored output. */
export interface OutputJob extends InputFile {
  /** Output path under the output folder (see {@link mirrorPath}). */
  out: string;
}

/** Options of {@link planOutputs}. */
export interface PlanOptions {
  /** Drop inputs whose output already exists. */
  skipExisting?: boolean;
  /** Output extension (default `.npy`). */
  ext?: string;
}

/**
 * Pairs each input with its mirrored output under `outDir`. Two inputs that
 * differ only in extension would write the same file: the second becomes an
 * InputError. With `skipExisting`, inputs whose output exists are counted in
 * `skipped` and left out of `jobs`.
 *
 * @example
 * ```ts
 * const { jobs, errors, skipped } = await planOutputs(files, "feats", { skipExisting: true });
 * ```
 */
export async function planOutputs(
  files: InputFile[],
  outDir: string,
  opts: PlanOptions = {},
): Promise<{ jobs: OutputJob[]; errors: InputError[]; skipped: number }> {
  const jobs: OutputJob[] = [];
  const errors: InputError[] = [];
  const owners = new Map<string, string>();
  let skipped = 0;
  for (const f of files) {
    const out = mirrorPath(outDir, f.rel, { ext: opts.ext });
    const owner = owners.get(out);
    if (owner !== undefined) {
      errors.push(new InputError(f.path, `output '${out}' would overwrite that of '${owner}'`));
      continue;
    }
    owners.set(out, f.path);
    if (opts.skipExisting && (await exists(out))) skipped++;
    else jobs.push({ ...f, out });
  }
  return { jobs, errors, skipped };
}
