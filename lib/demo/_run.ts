/**
 * Plumbing of the demo pipeline: running `atst` as a subprocess, the output
 * folder, copying clips.
 *
 * @module
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { UserError } from "../errors.ts";
import type { DemoClip } from "./data.ts";

const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));

/**
 * Runs `atst <args>` and returns its stdout. Its stderr (progress, the
 * probe's fold table) is kept and shown only when it fails, so the demo's
 * own output stays readable; `live` passes it through instead (the
 * pre-training progress, minutes long).
 */
export async function atst(args: string[], opts: { live?: boolean } = {}): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: opts.live ? "inherit" : "piped",
  }).output();
  if (out.code !== 0) {
    const tail = opts.live
      ? ""
      : ":\n" + new TextDecoder().decode(out.stderr).trim().split("\n").slice(-15).join("\n");
    throw new UserError(`'atst ${args.join(" ")}' failed with exit code ${out.code}${tail}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** `{ a: 1 }` -> `["--a", "1"]`. */
export function flags(values: Record<string, string | number>): string[] {
  return Object.entries(values).flatMap(([k, v]) => [`--${k}`, String(v)]);
}

/** Copies `clips` to `dir/<name(clip)>`, returning the new paths in order. */
export async function copyClips(
  clips: DemoClip[],
  dir: string,
  name: (c: DemoClip) => string,
): Promise<string[]> {
  const paths: string[] = [];
  for (const c of clips) {
    const to = join(dir, name(c));
    await Deno.mkdir(join(to, ".."), { recursive: true });
    await Deno.copyFile(c.path, to);
    paths.push(to);
  }
  return paths;
}

/** Marks a folder as the demo's own, so a rerun may empty it. */
export const MARKER = ".atst-demo";

/**
 * Makes `out` an empty demo folder: a new one, or a previous demo's
 * (recognised by its marker file) emptied. Any other non-empty folder is a
 * UserError: the demo never deletes what it did not write.
 */
export async function prepareOut(out: string): Promise<void> {
  const entries: string[] = [];
  try {
    for await (const e of Deno.readDir(out)) entries.push(e.name);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  if (entries.length && !entries.includes(MARKER)) {
    throw new UserError(
      `Output folder '${out}' is not empty and not a previous demo's; choose another --out`,
    );
  }
  for (const name of entries) await Deno.remove(join(out, name), { recursive: true });
  await Deno.mkdir(out, { recursive: true });
  await Deno.writeTextFile(
    join(out, MARKER),
    "Output of `deno task demo`; a rerun with this --out empties it.\n",
  );
}
