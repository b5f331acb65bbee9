/**
 * Labeled sets for the probe: a CSV (`path,label[,split][,fold]`, several
 * labels joined by `;` for multi-label tasks) or a folder whose sub-folder
 * names are the labels (optionally under `train/`, `valid/`, `test/`), whose
 * audio files are found exactly as `atst embed DIR` finds them.
 *
 * @module
 */
import { dirname, join, relative, resolve, sep } from "node:path";
import { type InputError, UserError } from "../errors.ts";
import { findAudioFiles } from "../audio/inputs.ts";
import { listFolders } from "../io/walk.ts";

/** The three roles an example can play. */
export type Split = "train" | "valid" | "test";

/** One labeled example. */
export interface LabeledItem {
  /** The path as written in the CSV, or relative to the folder (forward slashes). */
  path: string;
  /** Absolute path of the audio file. */
  resolved: string;
  /** One label (single-label task) or several. */
  labels: string[];
  split?: Split;
  fold?: string;
}

/** A parsed labeled set. */
export interface LabeledSet {
  items: LabeledItem[];
  /** The CSV or folder it came from. */
  source: string;
  /** True when any row has several labels (or the task was forced). */
  multiLabel: boolean;
  hasSplit: boolean;
  hasFold: boolean;
}

/** Accepted spellings of the split names (lower case). */
export const SPLIT_NAMES: Record<string, Split> = {
  train: "train",
  training: "train",
  valid: "valid",
  validation: "valid",
  val: "valid",
  dev: "valid",
  test: "test",
  testing: "test",
  eval: "test",
};

/**
 * Parses CSV text (RFC 4180 quoting) into rows of trimmed fields; blank
 * lines are skipped.
 */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = 0;
  const endRow = () => {
    row.push(field.trim());
    if (row.length > 1 || row[0] !== "") rows.push(row);
    row = [];
    field = "";
  };
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ",") {
      row.push(field.trim());
      field = "";
    } else if (ch === "\n") endRow();
    else if (ch !== "\r") field += ch;
    i++;
  }
  if (field !== "" || row.length) endRow();
  return rows;
}

/** Options for {@link readLabeledSet}. */
export interface ReadOptions {
  /** `auto` treats the set as multi-label when any row lists several labels. */
  task?: "auto" | "single" | "multi";
}

/**
 * Reads a labeled set from a CSV file or a folder of label sub-folders.
 * Throws UserError (exit 2) naming the file, row and problem.
 *
 * @example
 * ```ts
 * const set = await readLabeledSet("data/labels.csv");
 * console.log(set.items.length, set.multiLabel);
 * ```
 */
export async function readLabeledSet(path: string, opts: ReadOptions = {}): Promise<LabeledSet> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch {
    throw new UserError(`Cannot read labeled set '${path}': no such file or folder`);
  }
  const set = info.isDirectory
    ? await readFolder(path)
    : parseLabeledCsv(await Deno.readTextFile(path), path);
  const many = set.items.some((it) => it.labels.length !== 1);
  if (opts.task === "single" && many) {
    const bad = set.items.find((it) => it.labels.length !== 1)!;
    throw new UserError(
      `Labeled set '${path}': '${bad.path}' has ${bad.labels.length} labels but --task single was given`,
    );
  }
  set.multiLabel = opts.task === "multi" || (opts.task !== "single" && many);
  return set;
}

/** Parses the text of a labeled-set CSV; `source` names it in errors and anchors relative paths. */
export function parseLabeledCsv(text: string, source: string): LabeledSet {
  const rows = parseCsv(text.replace(/^\uFEFF/, ""));
  const header = rows.shift()?.map((h) => h.toLowerCase());
  const col = (...names: string[]) => header?.findIndex((h) => names.includes(h)) ?? -1;
  const iPath = col("path", "file", "filename");
  const iLabel = col("label", "labels");
  if (!header || iPath < 0 || iLabel < 0) {
    throw new UserError(
      `Labeled set '${source}': the first line must be a header with 'path' and 'label' columns (optional 'split', 'fold')`,
    );
  }
  const iSplit = col("split");
  const iFold = col("fold");
  const base = dirname(resolve(source));
  const seen = new Set<string>();
  const items: LabeledItem[] = rows.map((r, k) => {
    const line = k + 2;
    const p = r[iPath] ?? "";
    if (!p) throw new UserError(`Labeled set '${source}' line ${line}: empty path`);
    if (seen.has(p)) {
      throw new UserError(`Labeled set '${source}' line ${line}: '${p}' is listed twice`);
    }
    seen.add(p);
    const labels = (r[iLabel] ?? "").split(";").map((s) => s.trim()).filter((s) => s);
    if (!labels.length) {
      throw new UserError(`Labeled set '${source}' line ${line}: '${p}' has no label`);
    }
    const item: LabeledItem = { path: p, resolved: resolve(base, p), labels: [...new Set(labels)] };
    if (iSplit >= 0) {
      const raw = (r[iSplit] ?? "").toLowerCase();
      const split = SPLIT_NAMES[raw];
      if (!split) {
        throw new UserError(
          `Labeled set '${source}' line ${line}: split '${
            r[iSplit] ?? ""
          }' is not one of train, valid, test`,
        );
      }
      item.split = split;
    }
    if (iFold >= 0) {
      const fold = r[iFold] ?? "";
      if (!fold) throw new UserError(`Labeled set '${source}' line ${line}: empty fold`);
      item.fold = fold;
    }
    return item;
  });
  if (!items.length) throw new UserError(`Labeled set '${source}' has no rows`);
  return { items, source, multiLabel: false, hasSplit: iSplit >= 0, hasFold: iFold >= 0 };
}

/**
 * The audio in one label folder, found as every command finds audio
 * (lib/audio/inputs.ts); `visited` is shared over the whole set so that, as
 * for `atst embed DIR`, a folder reached twice through links counts once.
 */
async function listAudio(dir: string, visited: Set<string>): Promise<string[]> {
  const errors: InputError[] = [];
  const files = await findAudioFiles(dir, { errors, visited });
  if (errors.length) throw new UserError(`Labeled set: ${errors[0]!.message}`);
  return files;
}

/** Label (or split) folders: sub-folders and links to folders, hidden ones left out. */
async function subfolders(dir: string): Promise<string[]> {
  return (await listFolders(dir)).filter((name) => !name.startsWith("."));
}

/** DIR/<label>/**, or DIR/<split>/<label>/** when every sub-folder is a split name. */
async function readFolder(dir: string): Promise<LabeledSet> {
  const root = resolve(dir);
  const top = await subfolders(root);
  const bySplit = top.length > 0 && top.every((n) => SPLIT_NAMES[n.toLowerCase()] !== undefined);
  const items: LabeledItem[] = [];
  const groups = bySplit
    ? top.map((s) => ({ split: SPLIT_NAMES[s.toLowerCase()], dir: join(root, s) }))
    : [{ split: undefined, dir: root }];
  const visited = new Set([await Deno.realPath(root)]);
  for (const g of groups) {
    visited.add(await Deno.realPath(g.dir));
    for (const label of await subfolders(g.dir)) {
      for (const file of await listAudio(join(g.dir, label), visited)) {
        const item: LabeledItem = {
          path: relative(root, file).split(sep).join("/"),
          resolved: file,
          labels: [label],
        };
        if (g.split) item.split = g.split;
        items.push(item);
      }
    }
  }
  if (!items.length) {
    throw new UserError(
      `Labeled set '${dir}': no audio files in label sub-folders (expected ${dir}/<label>/<file>)`,
    );
  }
  return { items, source: dir, multiLabel: false, hasSplit: bySplit, hasFold: false };
}
