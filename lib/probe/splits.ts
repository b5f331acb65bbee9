/**
 * Which examples train, select and test the probe: given splits, official
 * folds (each fold is the test set once, the next fold validates), or a
 * seeded stratified carve-out. Also the checks that make a labeled set
 * unusable (empty splits, one class, unseen labels), each one clear line.
 *
 * @module
 */
import { UserError } from "../errors.ts";
import type { LabeledSet } from "./labeled_set.ts";
import { Rng } from "../rng.ts";

/** One train/valid/test assignment (indices into the labeled set's items). */
export interface FoldPlan {
  /** "split" without folds, else the fold held out for testing. */
  name: string;
  train: number[];
  valid: number[];
  test: number[];
  /** Where the validation examples came from. */
  validFrom: "split" | "next fold" | "carved from train";
}

/** Options for {@link planFolds}. */
export interface PlanOptions {
  seed: number;
  /** Fraction of train carved out for validation when none is given (0.1). */
  validFraction?: number;
  /** Fractions of a set without splits or folds used for valid and test (0.1 each). */
  testFraction?: number;
}

/** Orders fold names numerically when all are numbers, else as strings. */
function sortFolds(names: string[]): string[] {
  const numeric = names.every((n) => /^-?\d+(\.\d+)?$/.test(n));
  return [...names].sort((a, b) => numeric ? Number(a) - Number(b) : a < b ? -1 : a > b ? 1 : 0);
}

/**
 * A seeded stratified sample of `fraction` of `indices` (by first label),
 * returned with the rest. Classes with one example stay whole in the rest.
 */
export function stratifiedCarve(
  set: LabeledSet,
  indices: number[],
  fraction: number,
  rng: Rng,
): { carved: number[]; rest: number[] } {
  const groups = new Map<string, number[]>();
  for (const i of indices) {
    const key = set.items[i]!.labels[0]!;
    const g = groups.get(key);
    if (g) g.push(i);
    else groups.set(key, [i]);
  }
  const carved: number[] = [];
  const rest: number[] = [];
  for (const key of [...groups.keys()].sort()) {
    const g = rng.shuffle([...groups.get(key)!]);
    const k = g.length < 2 ? 0 : Math.min(g.length - 1, Math.round(fraction * g.length));
    carved.push(...g.slice(0, k));
    rest.push(...g.slice(k));
  }
  if (!carved.length && rest.length > 1) carved.push(rest.pop()!);
  return { carved: carved.sort((a, b) => a - b), rest: rest.sort((a, b) => a - b) };
}

/**
 * Plans the folds of a labeled set. With a `fold` column (which takes
 * precedence over `split`), fold k is test, fold k+1 (cyclically) is
 * validation, the rest train. With a `split` column, a missing validation
 * split is a seeded stratified 10 % of train. With neither, a seeded
 * stratified 80/10/10 split.
 */
export function planFolds(set: LabeledSet, opts: PlanOptions): FoldPlan[] {
  const rng = new Rng(opts.seed);
  const vf = opts.validFraction ?? 0.1;
  const all = set.items.map((_, i) => i);
  if (set.hasFold) {
    const names = sortFolds([...new Set(set.items.map((it) => it.fold!))]);
    if (names.length < 3) {
      throw new UserError(
        `Labeled set '${set.source}' has ${names.length} fold(s); folds need at least 3 (test, validation, train)`,
      );
    }
    return names.map((name, k) => {
      const validName = names[(k + 1) % names.length]!;
      return {
        name,
        test: all.filter((i) => set.items[i]!.fold === name),
        valid: all.filter((i) => set.items[i]!.fold === validName),
        train: all.filter((i) => set.items[i]!.fold !== name && set.items[i]!.fold !== validName),
        validFrom: "next fold" as const,
      };
    });
  }
  if (set.hasSplit) {
    const of = (s: string) => all.filter((i) => set.items[i]!.split === s);
    const test = of("test");
    let train = of("train");
    let valid = of("valid");
    let validFrom: FoldPlan["validFrom"] = "split";
    if (!valid.length && train.length) {
      ({ carved: valid, rest: train } = stratifiedCarve(set, train, vf, rng));
      validFrom = "carved from train";
    }
    return [{ name: "split", train, valid, test, validFrom }];
  }
  const tf = opts.testFraction ?? 0.1;
  const { carved: test, rest } = stratifiedCarve(set, all, tf, rng);
  const { carved: valid, rest: train } = stratifiedCarve(set, rest, vf / (1 - tf), rng);
  return [{ name: "split", train, valid, test, validFrom: "carved from train" }];
}

/**
 * The sorted class names of a set, after checking every fold: no empty
 * split, at least two classes in train, no label in valid or test that
 * train lacks.
 */
export function checkFolds(set: LabeledSet, folds: FoldPlan[]): string[] {
  const classes = [...new Set(set.items.flatMap((it) => it.labels))].sort();
  const where = (f: FoldPlan) => (f.name === "split" ? "" : ` of fold ${f.name}`);
  for (const f of folds) {
    for (
      const [role, idx] of [["train", f.train], ["validation", f.valid], ["test", f.test]] as const
    ) {
      if (!idx.length) {
        throw new UserError(`Labeled set '${set.source}': the ${role} split${where(f)} is empty`);
      }
    }
    const seen = new Set(f.train.flatMap((i) => set.items[i]!.labels));
    if (seen.size < 2) {
      throw new UserError(
        `Labeled set '${set.source}': train${where(f)} has a single class ('${
          [...seen][0]
        }'); a probe needs at least two`,
      );
    }
    for (const [role, idx] of [["validation", f.valid], ["test", f.test]] as const) {
      for (const i of idx) {
        const missing = set.items[i]!.labels.find((l) => !seen.has(l));
        if (missing !== undefined) {
          throw new UserError(
            `Labeled set '${set.source}': label '${missing}' of '${
              set.items[i]!.path
            }' is in ${role}${where(f)} but not in train`,
          );
        }
      }
    }
  }
  return classes;
}
