/**
 * The one recursive folder listing: sorted by name at every level, following
 * symbolic links to files and to folders, and visiting each real folder once
 * (so a link back up the tree cannot loop). Every command that searches
 * folders goes through here (lib/audio/inputs.ts for audio), so they all see
 * the same files.
 *
 * @module
 */
import { join } from "node:path";
import { InputError } from "../errors.ts";

/** What {@link listFilesSorted} keeps and where it descends. */
export interface WalkFilter {
  /** Keep a file with this name. */
  file(name: string): boolean;
  /** Descend into a folder with this name (default: every folder). */
  folder?(name: string): boolean;
}

/** Options of {@link listFilesSorted}. */
export interface WalkOptions {
  /**
   * Collects problems (an unreadable folder, a broken link whose name
   * `filter.file` keeps) as InputError entries and goes on; without it the
   * first problem is thrown.
   */
  errors?: InputError[];
  /** Real paths of folders already listed; shared across calls to list each folder once. */
  visited?: Set<string>;
}

/** A short reason for a file-system error, without the OS error number. */
export function fsReason(err: unknown): string {
  if (err instanceof Deno.errors.NotFound) return "no such file or directory";
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (err instanceof Deno.errors.FilesystemLoop) return "symbolic link loop";
  return err instanceof Error ? err.message.replace(/ \(os error \d+\).*$/, "") : String(err);
}

/** Byte-order comparison of names, the same on every platform and locale. */
function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** An entry's kind, looking through a symbolic link. */
async function kindOf(dir: string, e: Deno.DirEntry): Promise<"file" | "folder" | "other"> {
  let { isFile, isDirectory } = e;
  if (e.isSymlink) ({ isFile, isDirectory } = await Deno.stat(join(dir, e.name)));
  return isDirectory ? "folder" : isFile ? "file" : "other";
}

/**
 * Names of the sub-folders of `dir` (links to folders included), sorted.
 *
 * @example
 * ```ts
 * const labels = await listFolders("data"); // ["cat", "dog"]
 * ```
 */
export async function listFolders(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const kind = await kindOf(dir, e).catch(() => "other");
    if (kind === "folder") names.push(e.name);
  }
  return names.sort();
}

/**
 * Paths of the files under `dir` that `filter.file` keeps, depth first,
 * sorted by name at every level.
 *
 * @example
 * ```ts
 * const wavs = await listFilesSorted("clips", { file: (n) => n.endsWith(".wav") });
 * ```
 */
export async function listFilesSorted(
  dir: string,
  filter: WalkFilter,
  opts: WalkOptions = {},
): Promise<string[]> {
  const out: string[] = [];
  const visited = opts.visited ?? new Set<string>();
  const fail = (path: string, reason: string, err: unknown) => {
    if (!opts.errors) throw err;
    opts.errors.push(new InputError(path, reason));
  };
  const walk = async (d: string) => {
    const entries: Deno.DirEntry[] = [];
    try {
      const real = await Deno.realPath(d);
      if (visited.has(real)) return; // a link cycle, or a folder reached twice
      visited.add(real);
      for await (const e of Deno.readDir(d)) entries.push(e);
    } catch (err) {
      return fail(d, `cannot list folder: ${fsReason(err)}`, err);
    }
    for (const e of entries.sort(byName)) {
      const path = join(d, e.name);
      let kind;
      try {
        kind = await kindOf(d, e);
      } catch (err) {
        // A broken link matters only where a file of that name would be kept.
        if (filter.file(e.name)) fail(path, fsReason(err), err);
        continue;
      }
      if (kind === "folder") {
        if (filter.folder?.(e.name) ?? true) await walk(path);
      } else if (kind === "file" && filter.file(e.name)) out.push(path);
    }
  };
  await walk(dir);
  return out;
}
