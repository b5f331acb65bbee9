/**
 * JSON Lines form of features (`atst featurize --format jsonl`): one header
 * line, then one object per file. Writer and reader live together here.
 *
 * Header: `{"header":{"tool":"atst featurize","version":"0.1.0","mel":{...MelConfig},
 * "layout":"features[mel][frame]"}}`
 *
 * Record: `{"path":"a/b.wav","rel":"b.wav","sample_rate":16000,"source_rate":44100,
 * "channels":2,"frames":T,"n_mels":64,"features":[[T numbers] x 64]}` where
 * numbers are float32 values printed with 9 significant digits (enough to
 * read back the exact float32).
 *
 * @module
 */
import type { Features, MelConfig } from "./mel.ts";

/** One file's record. */
export interface FeaturesRecord {
  path: string;
  rel: string;
  sourceRate: number;
  channels: number;
  features: Features;
}

/** The header line (no trailing newline). */
export function jsonlHeader(version: string, mel: MelConfig): string {
  return JSON.stringify({
    header: { tool: "atst featurize", version, mel, layout: "features[mel][frame]" },
  });
}

/** One record line (no trailing newline). */
export function jsonlRecord(rec: FeaturesRecord): string {
  const { data, nMels, frames } = rec.features;
  const rows: number[][] = [];
  for (let m = 0; m < nMels; m++) {
    const row = new Array<number>(frames);
    for (let t = 0; t < frames; t++) row[t] = Number(data[m * frames + t]!.toPrecision(9));
    rows.push(row);
  }
  return JSON.stringify({
    path: rec.path,
    rel: rec.rel,
    sample_rate: 16000,
    source_rate: rec.sourceRate,
    channels: rec.channels,
    frames,
    n_mels: nMels,
    features: rows,
  });
}

/** Parses featurize JSON Lines output into records (the header is skipped). */
export function parseFeaturesJsonl(
  text: string,
): Array<{ path: string; rel: string; features: Features }> {
  const out = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    const obj = JSON.parse(line);
    if ("header" in obj) continue;
    const rows = obj.features as number[][];
    const nMels = obj.n_mels as number, frames = obj.frames as number;
    if (rows.length !== nMels || rows.some((r) => r.length !== frames)) {
      throw new Error(`Record for '${obj.path}' does not have ${nMels} rows of ${frames} values`);
    }
    const data = new Float32Array(nMels * frames);
    rows.forEach((r, m) => data.set(r, m * frames));
    out.push({
      path: obj.path as string,
      rel: obj.rel as string,
      features: { data, nMels, frames },
    });
  }
  return out;
}
