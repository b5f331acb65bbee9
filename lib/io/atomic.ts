/**
 * Atomic file writes: write to a temporary file next to the target, then
 * rename. A killed process leaves either the old file or the new one, never
 * half of one.
 *
 * @module
 */
import { basename, dirname, join } from "node:path";

/** Writes `data` to `path` atomically, creating parent folders. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  try {
    if (typeof data === "string") await Deno.writeTextFile(tmp, data);
    else await Deno.writeFile(tmp, data);
    await Deno.rename(tmp, path);
  } catch (err) {
    await Deno.remove(tmp).catch(() => {});
    throw err;
  }
}

/**
 * Opens a temporary file next to `path` for streaming writes; `commit()`
 * renames it into place, `abort()` removes it.
 */
export async function openAtomic(path: string): Promise<{
  file: Deno.FsFile;
  commit(): Promise<void>;
  abort(): Promise<void>;
}> {
  const dir = dirname(path);
  await Deno.mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`);
  const file = await Deno.open(tmp, { write: true, create: true, truncate: true });
  let open = true;
  const close = () => {
    if (!open) return;
    open = false;
    try {
      file.close();
    } catch (err) {
      // Closing `file.writable` already closed the file: that is fine.
      if (!(err instanceof Deno.errors.BadResource)) throw err;
    }
  };
  return {
    file,
    async commit() {
      close();
      await Deno.rename(tmp, path);
    },
    async abort() {
      close();
      await Deno.remove(tmp).catch(() => {});
    },
  };
}

/** True if `path` exists (file or folder). */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.NotFound) return false;
    throw err;
  }
}
