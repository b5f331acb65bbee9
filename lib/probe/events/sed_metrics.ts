/**
 * Sound event detection metrics as `sed_eval` defines them (Mesaros,
 * Heittola, Virtanen 2016), accumulated over files:
 *
 * - segment-based: each file's reference and estimated events become
 *   binary rolls of `resolution`-second segments (a segment is active when
 *   an event overlaps it: `floor(onset / r)` to `ceil(offset / r)`); micro
 *   F1 over all (segment, class) cells, and the error rate
 *   `(S + D + I) / N_ref` with, per segment, `S = min(N_ref, N_sys) - N_tp`,
 *   `D = max(0, N_ref - N_sys)`, `I = max(0, N_sys - N_ref)`;
 * - event-based: an estimated event matches a reference event of the same
 *   label when the onsets differ by at most the collar and (unless
 *   onset-only) the offsets by at most max(collar, percentage x the
 *   reference's length); each event matches at most once, and the matching
 *   is a maximum one per file and class (sed_eval's `optimal` matching);
 *   micro F1 over all events and macro F1, the mean of per-class F1 over
 *   the classes that occur in the references or the estimates.
 *
 * Precision and recall of zero counts are 0, as sed_eval's eps makes them.
 *
 * @module
 */
import type { SoundEvent } from "./strong_labels.ts";

/** The reference and estimated events of one file. */
export interface FilePair {
  reference: SoundEvent[];
  estimated: SoundEvent[];
}

/** F1 with its precision and recall. */
export interface FScore {
  f1: number;
  precision: number;
  recall: number;
}

function fScore(tp: number, nSys: number, nRef: number): FScore {
  const precision = nSys > 0 ? tp / nSys : 0;
  const recall = nRef > 0 ? tp / nRef : 0;
  const f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
  return { f1, precision, recall };
}

/**
 * Binary roll `[segments, classes]` of `events` at `resolution` seconds;
 * `segments` defaults to the last offset's segment (sed_eval's length).
 *
 * @example
 * ```ts
 * eventRoll([{ label: "a", onset: 0.5, offset: 1.2 }], ["a"], 1); // [1, 1] (2 segments)
 * ```
 */
export function eventRoll(
  events: SoundEvent[],
  classes: string[],
  resolution: number,
  segments?: number,
): Uint8Array {
  const C = classes.length;
  const index = new Map(classes.map((c, i) => [c, i]));
  const n = segments ??
    Math.ceil(events.reduce((m, e) => Math.max(m, e.offset), 0) * (1 / resolution));
  const roll = new Uint8Array(n * C);
  for (const e of events) {
    const c = index.get(e.label);
    if (c === undefined) continue;
    const on = Math.floor(e.onset * (1 / resolution));
    const off = Math.min(n, Math.ceil(e.offset * (1 / resolution)));
    for (let s = on; s < off; s++) roll[s * C + c] = 1;
  }
  return roll;
}

/** Segment-based metrics (micro). */
export interface SegmentMetrics extends FScore {
  errorRate: number;
  substitutionRate: number;
  deletionRate: number;
  insertionRate: number;
  nRef: number;
  nSys: number;
  nTp: number;
}

/**
 * Segment-based F1 and error rate over `pairs` (1 s segments by default).
 *
 * @example
 * ```ts
 * segmentMetrics([{ reference: [{ label: "a", onset: 0, offset: 2 }],
 *   estimated: [{ label: "a", onset: 1.5, offset: 3 }] }], ["a"]).f1; // 0.5 (segments 0-1 vs 1-2)
 * ```
 */
export function segmentMetrics(
  pairs: FilePair[],
  classes: string[],
  resolution = 1,
): SegmentMetrics {
  const C = classes.length;
  let nRef = 0, nSys = 0, nTp = 0, S = 0, D = 0, I = 0;
  for (const { reference, estimated } of pairs) {
    const last = Math.max(0, ...reference.map((e) => e.offset), ...estimated.map((e) => e.offset));
    const n = Math.ceil(last * (1 / resolution));
    const ref = eventRoll(reference, classes, resolution, n);
    const sys = eventRoll(estimated, classes, resolution, n);
    for (let s = 0; s < n; s++) {
      let r = 0, y = 0, tp = 0;
      for (let c = 0; c < C; c++) {
        r += ref[s * C + c]!;
        y += sys[s * C + c]!;
        tp += ref[s * C + c]! & sys[s * C + c]!;
      }
      nRef += r;
      nSys += y;
      nTp += tp;
      S += Math.min(r, y) - tp;
      D += Math.max(0, r - y);
      I += Math.max(0, y - r);
    }
  }
  const rate = (v: number) => (nRef > 0 ? v / nRef : 0);
  return {
    ...fScore(nTp, nSys, nRef),
    errorRate: rate(S + D + I),
    substitutionRate: rate(S),
    deletionRate: rate(D),
    insertionRate: rate(I),
    nRef,
    nSys,
    nTp,
  };
}

/** Event-based matching rules. */
export interface EventRules {
  /** Onset (and minimum offset) collar in seconds. */
  tCollar: number;
  /** Offset collar as a fraction of the reference event's length. */
  percentageOfLength: number;
  /** False for onset-only matching. */
  evaluateOffset: boolean;
}

/** DCASE 2016-2023 event-based F1: 200 ms collars, offsets within max(200 ms, 20 % of the length). */
export const DCASE_EVENT_RULES: EventRules = {
  tCollar: 0.2,
  percentageOfLength: 0.2,
  evaluateOffset: true,
};

/** HEAR's DCASE 2016 task 2 score (`event_onset_200ms_fms`): onsets within 200 ms. */
export const ONSET_ONLY_RULES: EventRules = {
  tCollar: 0.2,
  percentageOfLength: 0.5,
  evaluateOffset: false,
};

/** Event-based metrics: micro F1 over all events, macro over classes. */
export interface EventMetrics extends FScore {
  macroF1: number;
  perClass: Record<string, FScore & { nRef: number; nSys: number; nTp: number }>;
}

function matches(ref: SoundEvent, est: SoundEvent, rules: EventRules): boolean {
  if (Math.abs(ref.onset - est.onset) > rules.tCollar) return false;
  if (!rules.evaluateOffset) return true;
  const collar = Math.max(rules.tCollar, rules.percentageOfLength * (ref.offset - ref.onset));
  return Math.abs(ref.offset - est.offset) <= collar;
}

/** Size of a maximum matching between `refs` and `ests` (Kuhn's augmenting paths). */
function maxMatching(refs: SoundEvent[], ests: SoundEvent[], rules: EventRules): number {
  const adj = refs.map((r) => ests.flatMap((e, j) => (matches(r, e, rules) ? [j] : [])));
  const owner = new Int32Array(ests.length).fill(-1);
  const augment = (i: number, seen: Uint8Array): boolean => {
    for (const j of adj[i]!) {
      if (seen[j]) continue;
      seen[j] = 1;
      if (owner[j]! < 0 || augment(owner[j]!, seen)) {
        owner[j] = i;
        return true;
      }
    }
    return false;
  };
  let size = 0;
  for (let i = 0; i < refs.length; i++) if (augment(i, new Uint8Array(ests.length))) size++;
  return size;
}

/**
 * Event-based F1 over `pairs` under `rules` (default: DCASE collars).
 *
 * @example
 * ```ts
 * eventMetrics([{ reference: [{ label: "a", onset: 1, offset: 2 }],
 *   estimated: [{ label: "a", onset: 1.1, offset: 2.1 }] }]).f1; // 1
 * ```
 */
export function eventMetrics(
  pairs: FilePair[],
  rules: EventRules = DCASE_EVENT_RULES,
): EventMetrics {
  const counts = new Map<string, { nRef: number; nSys: number; nTp: number }>();
  const of = (label: string) => {
    let c = counts.get(label);
    if (!c) counts.set(label, c = { nRef: 0, nSys: 0, nTp: 0 });
    return c;
  };
  for (const { reference, estimated } of pairs) {
    const labels = new Set([...reference, ...estimated].map((e) => e.label));
    for (const label of labels) {
      const refs = reference.filter((e) => e.label === label);
      const ests = estimated.filter((e) => e.label === label);
      const c = of(label);
      c.nRef += refs.length;
      c.nSys += ests.length;
      c.nTp += maxMatching(refs, ests, rules);
    }
  }
  let nRef = 0, nSys = 0, nTp = 0;
  const perClass: EventMetrics["perClass"] = {};
  for (const label of [...counts.keys()].sort()) {
    const c = counts.get(label)!;
    nRef += c.nRef;
    nSys += c.nSys;
    nTp += c.nTp;
    perClass[label] = { ...fScore(c.nTp, c.nSys, c.nRef), ...c };
  }
  const f1s = Object.values(perClass).map((c) => c.f1);
  return {
    ...fScore(nTp, nSys, nRef),
    macroF1: f1s.length ? f1s.reduce((s, v) => s + v, 0) / f1s.length : 0,
    perClass,
  };
}
