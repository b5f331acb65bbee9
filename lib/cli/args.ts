/**
 * Flag parsing on top of `node:util` parseArgs (JSR `@std/cli` is not
 * reachable from this workplace). Adds: typed number parsing with clear
 * messages, `--help`, and UserError (exit 2) for every mistake.
 *
 * @module
 */
import { parseArgs as nodeParseArgs } from "node:util";
import { UserError } from "../errors.ts";

/** One flag's declaration. */
export interface FlagSpec {
  type: "string" | "boolean";
  short?: string;
  multiple?: boolean;
  default?: string | boolean | string[];
}

/** The result of {@link parseFlags}: flag values and positional arguments. */
export interface ParsedFlags {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  help: boolean;
}

/**
 * Parses `args` against `spec`. Unknown flags and missing values become a
 * UserError naming the flag.
 *
 * @example
 * ```ts
 * const { values, positionals } = parseFlags(["--out", "x", "a.wav"], {
 *   out: { type: "string" },
 * });
 * ```
 */
export function parseFlags(args: string[], spec: Record<string, FlagSpec>): ParsedFlags {
  const options = { ...spec, help: { type: "boolean" as const, short: "h" } };
  try {
    const { values, positionals } = nodeParseArgs({
      args,
      options,
      allowPositionals: true,
      strict: true,
    });
    const help = values.help === true;
    delete (values as Record<string, unknown>).help;
    return { values: values as ParsedFlags["values"], positionals, help };
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    // node's messages are long and end with advice about "--"; keep the first sentence.
    throw new UserError(msg.split(". ")[0]!.replace(/^Unknown option/, "Unknown flag"));
  }
}

/** Reads a string flag, or `fallback` when absent. */
export function str(values: ParsedFlags["values"], name: string, fallback: string): string;
export function str(values: ParsedFlags["values"], name: string): string | undefined;
export function str(
  values: ParsedFlags["values"],
  name: string,
  fallback?: string,
): string | undefined {
  const v = values[name];
  if (v === undefined) return fallback;
  if (typeof v !== "string") throw new UserError(`Flag --${name} needs a value`);
  return v;
}

/** Reads a repeatable string flag as a list (empty when absent). */
export function list(values: ParsedFlags["values"], name: string): string[] {
  const v = values[name];
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [String(v)];
}

/**
 * Reads a numeric flag. Rejects non-numbers, and values outside
 * [min, max] or non-integers when `integer` is set, naming flag and value.
 */
export function num(
  values: ParsedFlags["values"],
  name: string,
  fallback: number,
  opts: { min?: number; max?: number; integer?: boolean } = {},
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const s = String(raw).trim();
  const n = Number(s);
  if (s === "" || !Number.isFinite(n)) {
    throw new UserError(`Flag --${name} expects a number, got '${raw}'`);
  }
  if (opts.integer && !Number.isInteger(n)) {
    throw new UserError(`Flag --${name} expects a whole number, got '${raw}'`);
  }
  if (opts.min !== undefined && n < opts.min) {
    throw new UserError(`Flag --${name} must be at least ${opts.min}, got ${n}`);
  }
  if (opts.max !== undefined && n > opts.max) {
    throw new UserError(`Flag --${name} must be at most ${opts.max}, got ${n}`);
  }
  return n;
}

/** Reads a flag restricted to `choices`. */
export function choice<T extends string>(
  values: ParsedFlags["values"],
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const v = str(values, name);
  if (v === undefined) return fallback;
  if (!(choices as readonly string[]).includes(v)) {
    throw new UserError(`Flag --${name} must be one of ${choices.join("|")}, got '${v}'`);
  }
  return v as T;
}
