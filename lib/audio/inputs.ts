/**
 * Turns command-line inputs into a list of audio files: files, folders
 * (searched recursively for audio extensions, sorted), `@list.txt` files
 * (one path per line) and `-` (paths on stdin, one per line). Problems
 * (missing paths, unreadable folders) come back as InputError entries so a
 * batch can report them and go on.
 *
 * @module
 */
import { isAbsolute, join, normalize, relative, resolve, sep } from "node:path";
import { InputError } from "../errors.ts";

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

function hasAudioExtension(name: string): boolean {
  const dot = name.lastIndexOf(".");
  return dot > 0 && AUDIO_EXTENSIONS.has(name.slice(dot + 1).toLowerCase());
}

function reasonOf(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "no such file or directory";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (err instanceof Deno.errors.FilesystemLoop) return "symbolic link loop";
  return err instanceof Error ? err.message.replace(/ \(os error \d+\).*$/, "") : String(err);
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

/** Recursively lists audio files under `dir`, sorted by relative path. */
async function walk(
  dir: string,
  visited: Set<string>,
  errors: InputError[],
): Promise<string[]> {
  const found: string[] = [];
  const entries: Deno.DirEntry[] = [];
  try {
    const real = await Deno.realPath(dir);
    if (visited.has(real)) return found; // symlink cycle or folder given twice
    visited.add(real);
    for await (const e of Deno.readDir(dir)) entries.push(e);
  } catch (err) {
    errors.push(new InputError(dir, `cannot list folder: ${reasonOf(err)}`));
    return found;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const full = join(dir, e.name);
    let isDir = e.isDirectory, isFile = e.isFile;
    if (e.isSymlink) {
      try {
        const st = await Deno.stat(full);
        isDir = st.isDirectory;
        isFile = st.isFile;
      } catch (err) {
        if (hasAudioExtension(e.name)) errors.push(new InputError(full, reasonOf(err)));
        continue;
      }
    }
    if (isDir) found.push(...(await walk(full, visited, errors)));
    else if (isFile && hasAudioExtension(e.name)) found.push(full);
  }
  return found;
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
        errors.push(new InputError(listPath, `cannot read list: ${reasonOf(err)}`));
        return;
      }
      for (const line of listLines(text)) await expandOne(line, true);
      return;
    }
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(arg);
    } catch (err) {
      errors.push(new InputError(arg, reasonOf(err)));
      return;
    }
    if (st.isDirectory) {
      for (const f of await walk(arg, visitedDirs, errors)) add(f, relative(arg, f));
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
