/**
 * The probe's outputs: the JSON report (one writer, here), the short
 * human table for stderr, and the per-file predictions CSV.
 *
 * @module
 */
import type { EmbeddingTable } from "./embeddings.ts";
import type { ProbeOutcome } from "./evaluate.ts";
import type { LabeledSet } from "./labeled_set.ts";
import type { ProbeConfig } from "./protocols.ts";

/** Report format version; bump when fields change meaning. */
export const REPORT_VERSION = 1;

/** The JSON report of one probe run. */
export interface ProbeReport {
  reportVersion: number;
  tool: string;
  protocol: string;
  task: ProbeOutcome["task"];
  metric: ProbeOutcome["metric"];
  labeledSet: string;
  embeddings: { source: string; dim: number; count: number };
  model: { sha256: string | null; path: string | null };
  backend: string;
  config: ProbeConfig;
  classes: string[];
  classCounts: Record<string, number>;
  folds: ProbeOutcome["folds"];
  mean: Record<string, number>;
  std: Record<string, number>;
  timing: { embedSeconds: number; trainSeconds: number; totalSeconds: number };
  createdAt: string;
}

/** Where a report's numbers came from: model, backend, settings, timing, date. */
export function provenance(
  table: { modelSha256?: string },
  args: { modelPath?: string; backend: string; cfg: ProbeConfig; timing: ProbeReport["timing"] },
): Pick<ProbeReport, "model" | "backend" | "config" | "timing" | "createdAt"> {
  return {
    model: { sha256: table.modelSha256 ?? null, path: args.modelPath ?? null },
    backend: args.backend,
    config: args.cfg,
    timing: args.timing,
    createdAt: new Date().toISOString(),
  };
}

/** Assembles the report object (no I/O). */
export function buildReport(args: {
  tool: string;
  set: LabeledSet;
  table: EmbeddingTable;
  cfg: ProbeConfig;
  outcome: ProbeOutcome;
  modelPath?: string;
  backend: string;
  timing: ProbeReport["timing"];
}): ProbeReport {
  const { set, table, cfg, outcome } = args;
  return {
    reportVersion: REPORT_VERSION,
    tool: args.tool,
    protocol: cfg.protocol,
    task: outcome.task,
    metric: outcome.metric,
    labeledSet: set.source,
    embeddings: { source: table.source, dim: table.dim, count: table.n },
    classes: outcome.classes,
    classCounts: outcome.classCounts,
    folds: outcome.folds,
    mean: outcome.mean,
    std: outcome.std,
    ...provenance(table, args),
  };
}

/** A fraction as a percentage with `digits` decimals, "n/a" when missing or NaN. */
export const pct = (
  v: number | undefined,
  digits = 2,
) => (v === undefined || Number.isNaN(v) ? "n/a" : (100 * v).toFixed(digits));

/** A few lines for stderr: one row per fold, then mean +- std of the test metric. */
export function formatTable(r: ProbeReport): string {
  const key = r.metric;
  const lines = [
    `probe: ${r.protocol} protocol, ${r.task}, ${r.classes.length} classes, ${r.embeddings.dim}-d embeddings, metric ${key} (%)`,
    `${"fold".padEnd(8)}${"train".padStart(7)}${"valid".padStart(7)}${"test".padStart(7)}${
      "epoch".padStart(10)
    }${"valid".padStart(8)}${"test".padStart(8)}`,
  ];
  for (const f of r.folds) {
    const t = (f.test as Record<string, number>)[key];
    lines.push(
      `${f.fold.slice(0, 8).padEnd(8)}${String(f.counts.train).padStart(7)}${
        String(f.counts.valid).padStart(7)
      }` +
        `${String(f.counts.test).padStart(7)}${`${f.bestEpoch}/${f.epochsRun}`.padStart(10)}${
          pct(f.valid).padStart(8)
        }${pct(t).padStart(8)}`,
    );
  }
  const extra = r.task === "multi-label" ? `, d-prime ${(r.mean.dPrime ?? NaN).toFixed(3)}` : "";
  lines.push(
    `${key} ${pct(r.mean[key])} +- ${pct(r.std[key])} over ${r.folds.length} fold(s)${extra}`,
  );
  return lines.join("\n");
}

function csvField(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/**
 * Per-file predictions of every test example:
 * `path,fold,label,predicted,<one score column per class>`. Multi-label
 * rows list labels joined by `;` and predict every class scoring >= 0.5.
 */
export function predictionsCsv(set: LabeledSet, outcome: ProbeOutcome): string {
  const { classes } = outcome;
  const multi = outcome.task === "multi-label";
  const head = ["path", "fold", "label", "predicted", ...classes.map((c) => `score:${c}`)];
  const rows = [head.map(csvField).join(",")];
  for (const p of outcome.predictions) {
    const item = set.items[p.item]!;
    let predicted: string;
    if (multi) {
      predicted = classes.filter((_, c) => p.scores[c]! >= 0.5).join(";");
    } else {
      let best = 0;
      for (let c = 1; c < classes.length; c++) if (p.scores[c]! > p.scores[best]!) best = c;
      predicted = classes[best]!;
    }
    const scores = Array.from(p.scores, (v) => v.toPrecision(6));
    rows.push(
      [item.path, p.fold, item.labels.join(";"), predicted, ...scores].map(csvField).join(","),
    );
  }
  return rows.join("\n") + "\n";
}
