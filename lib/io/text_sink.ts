/**
 * Streamed text output (JSON Lines, CSV, reports) to a named file or to
 * stdout. A file is written atomically: to a temporary file next to it,
 * renamed into place by `close()`, removed by `abort()`.
 *
 * @module
 */
import { openAtomic } from "./atomic.ts";

/** Where streamed text goes. */
export interface TextSink {
  /** Writes `text` as given (callers add newlines). */
  write(text: string): Promise<void>;
  /** Finishes: a file is renamed into place; stdout is left open. */
  close(): Promise<void>;
  /** Gives up: a file's temporary is removed; stdout is left open. */
  abort(): Promise<void>;
}

/**
 * Opens `path` (atomically) or, without one, stdout.
 *
 * @example
 * ```ts
 * const sink = await openTextSink("out/emb.jsonl");
 * await sink.write('{"a":1}\n');
 * await sink.close();
 * ```
 */
export async function openTextSink(path?: string): Promise<TextSink> {
  const target = path === undefined ? undefined : await openAtomic(path);
  const writer = (target?.file ?? Deno.stdout).writable.getWriter();
  const enc = new TextEncoder();
  return {
    write: (text) => writer.write(enc.encode(text)),
    async close() {
      if (!target) return writer.releaseLock();
      await writer.close();
      await target.commit();
    },
    async abort() {
      if (!target) return writer.releaseLock();
      await writer.abort().catch(() => {});
      await target.abort();
    },
  };
}

/**
 * Writes all of `text` to `path` (atomically) or, without one, to stdout.
 *
 * @example
 * ```ts
 * await writeText(reportPath, JSON.stringify(report, null, 2) + "\n");
 * ```
 */
export async function writeText(path: string | undefined, text: string): Promise<void> {
  const sink = await openTextSink(path);
  try {
    await sink.write(text);
  } catch (err) {
    await sink.abort();
    throw err;
  }
  await sink.close();
}
