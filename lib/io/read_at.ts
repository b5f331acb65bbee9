/**
 * Positional reads from an open file, for formats read by range (WAV data,
 * compressed-file headers) instead of whole.
 *
 * @module
 */

/**
 * Reads up to `n` bytes at byte offset `at` of `file`; fewer at the end of
 * the file. File system errors are thrown as they come.
 *
 * @example
 * ```ts
 * using file = Deno.openSync("a.wav");
 * const riff = readAt(file, 0, 12);
 * ```
 */
export function readAt(file: Deno.FsFile, at: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  file.seekSync(at, Deno.SeekMode.Start);
  let got = 0;
  while (got < n) {
    const r = file.readSync(out.subarray(got));
    if (r === null || r === 0) break;
    got += r;
  }
  return got === n ? out : out.subarray(0, got);
}
