/**
 * A recursive folder listing in a stable order (by name at every level), for
 * callers that want no per-entry error handling. `expandInputs` in
 * lib/audio/inputs.ts has its own walker: it follows symlinks, detects
 * cycles and reports unreadable folders per input.
 *
 * @module
 */
import { join } from "node:path";

/** What {@link listFilesSorted} keeps and where it descends. */
export interface WalkFilter {
  /** Keep a file with this name. */
  file(name: string): boolean;
  /** Descend into a folder with this name (default: every folder). */
  folder?(name: string): boolean;
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
export async function listFilesSorted(dir: string, filter: WalkFilter): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    const entries: Deno.DirEntry[] = [];
    for await (const e of Deno.readDir(d)) entries.push(e);
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      if (e.isDirectory) {
        if (filter.folder?.(e.name) ?? true) await walk(join(d, e.name));
      } else if (e.isFile && filter.file(e.name)) out.push(join(d, e.name));
    }
  };
  await walk(dir);
  return out;
}
