/**
 * Strong labels for sound event detection in the DCASE / DESED layout,
 * reader and writer side by side: a tab-separated file with the header
 * `filename onset offset event_label` (seconds), one row per event; a row
 * whose onset, offset and label are empty lists a file without events.
 * Optional `split` (train/valid/test) and `fold` columns mean what they
 * mean for clip labels and must agree across a file's rows. The writer
 * ({@link eventsTsv}) emits the same layout, so predictions read back in.
 *
 * @module
 */
import { dirname, resolve } from "node:path";
import { UserError } from "../../errors.ts";
import { type LabeledSet, type Split, SPLIT_NAMES } from "../labeled_set.ts";

/** One event: a label active from `onset` to `offset` seconds. */
export interface SoundEvent {
  label: string;
  onset: number;
  offset: number;
}

/** A reference event with the TSV line it came from (for error messages). */
export interface LabeledEvent extends SoundEvent {
  line: number;
}

/** One audio file of a strong-label set and its events (sorted by onset). */
export interface EventFile {
  /** The filename as written in the TSV. */
  path: string;
  /** Absolute path of the audio (against `--audio DIR` or the TSV's folder). */
  resolved: string;
  /** First TSV line that names the file. */
  line: number;
  events: LabeledEvent[];
  split?: Split;
  fold?: string;
}

/** A parsed strong-label set. */
export interface EventSet {
  files: EventFile[];
  /** Sorted event labels. */
  classes: string[];
  source: string;
  hasSplit: boolean;
  hasFold: boolean;
}

const HEADER = ["filename", "onset", "offset", "event_label"];

/**
 * True when `text` starts with a strong-label header (what `atst probe`
 * uses to pick the events task).
 *
 * @example
 * ```ts
 * isStrongLabelHeader("filename\tonset\toffset\tevent_label\n"); // true
 * ```
 */
export function isStrongLabelHeader(text: string): boolean {
  const first = text.replace(/^\uFEFF/, "").split(/\r?\n/, 1)[0] ?? "";
  const cols = first.split("\t").map((c) => c.trim().toLowerCase());
  return HEADER.every((h) => cols.includes(h));
}

/** Options for {@link parseStrongLabels}. */
export interface StrongLabelOptions {
  /** Folder the filenames are relative to (default: the TSV's folder). */
  audioDir?: string;
}

/**
 * Parses the text of a strong-label TSV. `source` names it in errors and
 * anchors relative paths. Throws UserError naming the file and line for a
 * bad number, onset >= offset, a negative onset, or disagreeing split/fold
 * values.
 *
 * @example
 * ```ts
 * const set = parseStrongLabels("filename\tonset\toffset\tevent_label\na.wav\t0.5\t1.2\tdog\n", "x.tsv");
 * set.files[0].events; // [{ label: "dog", onset: 0.5, offset: 1.2, line: 2 }]
 * ```
 */
export function parseStrongLabels(
  text: string,
  source: string,
  opts: StrongLabelOptions = {},
): EventSet {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const header = (lines[0] ?? "").split("\t").map((h) => h.trim().toLowerCase());
  const [iFile, iOn, iOff, iLabel] = HEADER.map((h) => header.indexOf(h)) as [
    number,
    number,
    number,
    number,
  ];
  if (Math.min(iFile, iOn, iOff, iLabel) < 0) {
    throw new UserError(
      `Strong labels '${source}': the first line must be the tab-separated header 'filename onset offset event_label' (optional 'split', 'fold')`,
    );
  }
  const iSplit = header.indexOf("split");
  const iFold = header.indexOf("fold");
  const base = resolve(opts.audioDir ?? dirname(resolve(source)));
  const byPath = new Map<string, EventFile>();
  for (let k = 1; k < lines.length; k++) {
    const raw = lines[k]!;
    if (!raw.trim()) continue;
    const line = k + 1;
    const at = `Strong labels '${source}' line ${line}`;
    const r = raw.split("\t").map((s) => s.trim());
    const path = r[iFile] ?? "";
    if (!path) throw new UserError(`${at}: empty filename`);
    let file = byPath.get(path);
    if (!file) {
      file = { path, resolved: resolve(base, path), line, events: [] };
      byPath.set(path, file);
    }
    if (iSplit >= 0) {
      const split = SPLIT_NAMES[(r[iSplit] ?? "").toLowerCase()];
      if (!split) {
        throw new UserError(`${at}: split '${r[iSplit] ?? ""}' is not one of train, valid, test`);
      }
      if (file.split !== undefined && file.split !== split) {
        throw new UserError(`${at}: '${path}' is in split ${split} here but ${file.split} above`);
      }
      file.split = split;
    }
    if (iFold >= 0) {
      const fold = r[iFold] ?? "";
      if (!fold) throw new UserError(`${at}: empty fold`);
      if (file.fold !== undefined && file.fold !== fold) {
        throw new UserError(`${at}: '${path}' is in fold ${fold} here but ${file.fold} above`);
      }
      file.fold = fold;
    }
    const [on, off, label] = [r[iOn] ?? "", r[iOff] ?? "", r[iLabel] ?? ""];
    if (on === "" && off === "" && label === "") continue; // a file without events
    const onset = Number(on), offset = Number(off);
    if (on === "" || !Number.isFinite(onset) || off === "" || !Number.isFinite(offset)) {
      throw new UserError(`${at}: onset '${on}' and offset '${off}' must be numbers (seconds)`);
    }
    if (!label) throw new UserError(`${at}: '${path}' has an event without a label`);
    if (onset < 0) throw new UserError(`${at}: onset ${onset} of '${path}' is before 0 s`);
    if (!(onset < offset)) {
      throw new UserError(`${at}: onset ${onset} is not before offset ${offset} in '${path}'`);
    }
    file.events.push({ label, onset, offset, line });
  }
  const files = [...byPath.values()];
  if (!files.length) throw new UserError(`Strong labels '${source}' list no files`);
  for (const f of files) f.events.sort((a, b) => a.onset - b.onset || a.offset - b.offset);
  const classes = [...new Set(files.flatMap((f) => f.events.map((e) => e.label)))].sort();
  if (!classes.length) throw new UserError(`Strong labels '${source}' have no events`);
  return { files, classes, source, hasSplit: iSplit >= 0, hasFold: iFold >= 0 };
}

/** Reads and parses a strong-label TSV (see {@link parseStrongLabels}). */
export async function readStrongLabels(
  path: string,
  opts: StrongLabelOptions = {},
): Promise<EventSet> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    throw new UserError(`Cannot read strong labels '${path}': no such file`);
  }
  return parseStrongLabels(text, path, opts);
}

/**
 * The files of an event set as a labeled set, so that the clip probe's fold
 * planner (splits.ts) assigns them: each file is stratified by its first
 * event label in sorted order, or `(none)` for a file without events.
 */
export function asLabeledSet(set: EventSet): LabeledSet {
  return {
    items: set.files.map((f) => ({
      path: f.path,
      resolved: f.resolved,
      labels: [f.events.map((e) => e.label).sort()[0] ?? "(none)"],
      split: f.split,
      fold: f.fold,
    })),
    source: set.source,
    multiLabel: true,
    hasSplit: set.hasSplit,
    hasFold: set.hasFold,
  };
}

/** Seconds as the TSV writes them: milliseconds resolution, no trailing zeros. */
function seconds(v: number): string {
  return String(Math.round(v * 1000) / 1000);
}

/**
 * A DCASE TSV (`filename onset offset event_label`) of the events of each
 * file; a file without events gets a row with empty fields, so every
 * scored file is listed. When the files carry a `fold`, a `fold` column
 * follows (on every row, the empty-field rows too).
 *
 * @example
 * ```ts
 * eventsTsv([{ path: "a.wav", events: [{ label: "dog", onset: 0.52, offset: 1.2 }] }]);
 * // "filename\tonset\toffset\tevent_label\na.wav\t0.52\t1.2\tdog\n"
 * ```
 */
export function eventsTsv(files: { path: string; events: SoundEvent[]; fold?: number }[]): string {
  const folds = files.some((f) => f.fold !== undefined);
  const rows = [[...HEADER, ...(folds ? ["fold"] : [])].join("\t")];
  for (const f of files) {
    const fold = folds ? `\t${f.fold ?? ""}` : "";
    if (!f.events.length) rows.push(`${f.path}\t\t\t${fold}`);
    for (const e of f.events) {
      rows.push(`${f.path}\t${seconds(e.onset)}\t${seconds(e.offset)}\t${e.label}${fold}`);
    }
  }
  return rows.join("\n") + "\n";
}
