/**
 * The demo's data: the Asterisk PBX voice prompts that Debian packages as
 * `asterisk-core-sounds-{en,es,fr,it,ru}-wav` (real recordings, CC-BY-SA 3.0
 * and CC-BY 3.0). The label of a clip is the language of the voice folder it
 * sits in, so the task is 5-way spoken language identification. English and
 * Spanish are read by the same voice (Allison Smith), so speaker identity
 * alone does not solve it.
 *
 * This module finds the installed prompts, picks a balanced seeded subset and
 * writes the labeled CSV (`path,label,fold`) that `atst probe` reads.
 *
 * @module
 */
import { join } from "node:path";
import { UserError } from "../errors.ts";
import { Rng } from "../rng.ts";
import { aptInstall, canAptInstall } from "../io/apt.ts";
import { listFilesSorted } from "../io/walk.ts";

/** Where Debian installs the prompts. */
export const DEFAULT_DATA_ROOT = "/usr/share/asterisk/sounds";

/** One language of the demo: label, voice folder under the root, Debian package. */
export interface DemoLanguage {
  label: string;
  folder: string;
  pkg: string;
}

/** The five languages (voice folders are fixed by the Debian packages, version 1.6.1). */
export const LANGUAGES: readonly DemoLanguage[] = [
  { label: "en", folder: "en_US_f_Allison", pkg: "asterisk-core-sounds-en-wav" },
  { label: "es", folder: "es_MX_f_Allison", pkg: "asterisk-core-sounds-es-wav" },
  { label: "fr", folder: "fr_CA_f_June", pkg: "asterisk-core-sounds-fr-wav" },
  { label: "it", folder: "it_IT_m_Carlo", pkg: "asterisk-core-sounds-it-wav" },
  { label: "ru", folder: "ru_RU_f_IvrvoiceRU", pkg: "asterisk-core-sounds-ru-wav" },
];

/** The command that installs the data. */
export const APT_COMMAND = `apt-get install -y ${LANGUAGES.map((l) => l.pkg).join(" ")}`;

/** One usable recording. */
export interface DemoClip {
  /** Absolute path of the .wav file. */
  path: string;
  label: string;
  seconds: number;
}

/** A clip with its cross-validation fold. */
export interface FoldedClip extends DemoClip {
  fold: number;
}

/** Clip lengths the demo keeps: long enough to hold speech, short enough to stay quick. */
export const MIN_SECONDS = 1.0;
export const MAX_SECONDS = 8.0;

/**
 * Reads the duration of a PCM WAV file from its header (fmt and data
 * chunks), or undefined when the file is not a plain RIFF/WAVE file.
 */
export function wavSeconds(header: Uint8Array): number | undefined {
  const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
  const tag = (o: number) => String.fromCharCode(...header.subarray(o, o + 4));
  if (header.length < 12 || tag(0) !== "RIFF" || tag(8) !== "WAVE") return undefined;
  let byteRate = 0;
  for (let o = 12; o + 8 <= header.length;) {
    const id = tag(o);
    const size = view.getUint32(o + 4, true);
    if (id === "fmt " && o + 16 <= header.length) byteRate = view.getUint32(o + 16, true);
    if (id === "data") return byteRate > 0 ? size / byteRate : undefined;
    o += 8 + size + (size & 1);
  }
  return undefined;
}

/** Prompts that are tones, not speech (the same in every language). */
const NON_SPEECH = new Set([
  "beep.wav",
  "beeperr.wav",
  "ascending-2tone.wav",
  "descending-2tone.wav",
]);

async function readHeader(path: string, n = 4096): Promise<Uint8Array> {
  const f = await Deno.open(path);
  try {
    const buf = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const k = await f.read(buf.subarray(got));
      if (k === null) break;
      got += k;
    }
    return buf.subarray(0, got);
  } finally {
    f.close();
  }
}

function listWavs(dir: string): Promise<string[]> {
  return listFilesSorted(dir, {
    file: (name) => name.endsWith(".wav") && !NON_SPEECH.has(name),
    // silence/ holds digital silence of fixed lengths: no language in it.
    folder: (name) => name !== "silence",
  });
}

/**
 * Finds the installed prompts under `root` and returns, per label, the clips
 * between {@link MIN_SECONDS} and {@link MAX_SECONDS} long, sorted by path
 * (tones and the silence/ folder left out).
 * Throws UserError naming the apt-get command when a language is missing.
 *
 * @example
 * ```ts
 * const byLabel = await findDemoData();
 * console.log([...byLabel.keys()]); // ["en", "es", "fr", "it", "ru"]
 * ```
 */
export async function findDemoData(root = DEFAULT_DATA_ROOT): Promise<Map<string, DemoClip[]>> {
  const missing = [];
  for (const lang of LANGUAGES) {
    try {
      if (!(await Deno.stat(join(root, lang.folder))).isDirectory) missing.push(lang);
    } catch {
      missing.push(lang);
    }
  }
  if (missing.length) {
    throw new UserError(
      `The demo data is not installed (no ${
        missing.map((l) => l.folder).join(", ")
      } under ${root}): run '${APT_COMMAND}' as root`,
    );
  }
  const byLabel = new Map<string, DemoClip[]>();
  for (const lang of LANGUAGES) {
    const clips: DemoClip[] = [];
    for (const path of await listWavs(join(root, lang.folder))) {
      const seconds = wavSeconds(await readHeader(path));
      if (seconds !== undefined && seconds >= MIN_SECONDS && seconds <= MAX_SECONDS) {
        clips.push({ path, label: lang.label, seconds });
      }
    }
    byLabel.set(lang.label, clips);
  }
  return byLabel;
}

/**
 * Picks `perClass` clips of every label with a seeded shuffle, so the same
 * seed gives the same subset on any machine. Throws when a label has fewer.
 * The result is grouped by label, in label order.
 */
export function pickBalanced(
  byLabel: Map<string, DemoClip[]>,
  perClass: number,
  seed: number,
): DemoClip[] {
  const out: DemoClip[] = [];
  for (const [label, clips] of [...byLabel].sort(([a], [b]) => (a < b ? -1 : 1))) {
    if (clips.length < perClass) {
      throw new UserError(
        `The demo needs ${perClass} clips labeled '${label}' but found ${clips.length}`,
      );
    }
    const picked = new Rng(seed).shuffle([...clips]).slice(0, perClass);
    out.push(...picked.sort((a, b) => (a.path < b.path ? -1 : 1)));
  }
  return out;
}

/**
 * Assigns folds 1..k so that every label is spread evenly over the folds
 * (stratified): within a label, clips are shuffled with `seed` and dealt
 * round-robin.
 */
export function assignFolds(clips: DemoClip[], k: number, seed: number): FoldedClip[] {
  const rng = new Rng(seed);
  const byLabel = new Map<string, DemoClip[]>();
  for (const c of clips) byLabel.set(c.label, [...(byLabel.get(c.label) ?? []), c]);
  const fold = new Map<DemoClip, number>();
  for (const group of byLabel.values()) {
    rng.shuffle(group).forEach((c, i) => fold.set(c, (i % k) + 1));
  }
  return clips.map((c) => ({ ...c, fold: fold.get(c)! }));
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** The labeled-set CSV that `atst probe` reads: `path,label,fold`, one row per clip. */
export function labeledCsv(clips: FoldedClip[]): string {
  const rows = clips.map((c) => `${csvField(c.path)},${csvField(c.label)},${c.fold}`);
  return ["path,label,fold", ...rows].join("\n") + "\n";
}

/**
 * Makes sure the demo data is installed: when a language folder under the
 * default root is missing and this process is root on a machine with
 * apt-get, installs the Debian packages (progress on stderr). Otherwise it
 * leaves the clear error of {@link findDemoData} to the caller.
 * Returns true when it installed something.
 */
export async function ensureDemoData(root = DEFAULT_DATA_ROOT): Promise<boolean> {
  if (root !== DEFAULT_DATA_ROOT) return false;
  const missing: DemoLanguage[] = [];
  for (const lang of LANGUAGES) {
    const ok = await Deno.stat(join(root, lang.folder)).then((s) => s.isDirectory, () => false);
    if (!ok) missing.push(lang);
  }
  if (!missing.length || !(await canAptInstall())) return false;
  const pkgs = missing.map((l) => l.pkg);
  console.error(`demo: installing the demo data: apt-get install -y ${pkgs.join(" ")}`);
  if (!(await aptInstall(pkgs))) {
    console.error("demo: apt-get could not install the demo data");
    return false;
  }
  return true;
}
