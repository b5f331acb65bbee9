/**
 * The encoder's architecture as one plain object. It is stored, resolved,
 * in every checkpoint; a loaded model takes its shape from there, never
 * from flags.
 *
 * @module
 */

/**
 * The model family: ATST-Clip (a [CLS] token, final norm `norm`) or
 * ATST-Frame (no [CLS], positions from row 1, final norm `norm_frame`;
 * REFERENCE.md §8.3).
 */
export type EncoderFamily = "clip" | "frame";

/** The families {@link encoderConfig} knows. */
export const ENCODER_FAMILIES: readonly EncoderFamily[] = ["clip", "frame"];

/** Everything that fixes the encoder's shape (REFERENCE.md §2). */
export interface EncoderConfig {
  /** Model family; checkpoints written before families existed are "clip". */
  family: EncoderFamily;
  /** "tiny" | "small" | "base", or "custom" for imported shapes that match none. */
  size: string;
  /** Token width D. */
  dim: number;
  /** Number of transformer blocks. */
  depth: number;
  /** Attention heads; dim must be a multiple. */
  heads: number;
  /** MLP hidden width = dim * mlpRatio. */
  mlpRatio: number;
  /** Mel bands: a patch spans the full height. */
  nMels: number;
  /** Frames per patch (4 frames = 40 ms). */
  patchFrames: number;
  /** Patch positions in the positional table: 1001 frames / 4 = 250 (plus CLS row). */
  maxPatches: number;
  /** LayerNorm epsilon (the reference builds its LayerNorms with eps 1e-6). */
  lnEps: number;
  /** Drop-path rate of the last block; rises linearly from 0 at the first. */
  dropPathRate: number;
}

const SIZES = {
  // The project's own size, for tests and demos.
  tiny: { dim: 192, depth: 4, heads: 3 },
  // ATST small (about 21.6 M parameters).
  small: { dim: 384, depth: 12, heads: 6 },
  // ATST base (about 85 M parameters).
  base: { dim: 768, depth: 12, heads: 12 },
} as const;

/** Names accepted by {@link encoderConfig}. */
export type EncoderSize = keyof typeof SIZES;

/** The sizes {@link encoderConfig} knows. */
export const ENCODER_SIZES: readonly EncoderSize[] = ["tiny", "small", "base"];

/**
 * The config of a named size (REFERENCE.md §2), or of a custom shape when
 * `overrides` are given.
 *
 * @example
 * ```ts
 * const cfg = encoderConfig("small"); // dim 384, depth 12, heads 6
 * ```
 */
export function encoderConfig(
  size: EncoderSize,
  overrides: Partial<EncoderConfig> = {},
): EncoderConfig {
  const s = SIZES[size];
  if (!s) throw new Error(`Unknown encoder size '${size}' (expected tiny, small or base)`);
  const cfg: EncoderConfig = {
    family: "clip",
    size,
    dim: s.dim,
    depth: s.depth,
    heads: s.heads,
    mlpRatio: 4,
    nMels: 64,
    patchFrames: 4,
    maxPatches: 250,
    lnEps: 1e-6,
    dropPathRate: 0.1,
    ...overrides,
  };
  validateConfig(cfg);
  return cfg;
}

/** The named size whose shape `cfg` has, or "custom". */
export function sizeName(cfg: Pick<EncoderConfig, "dim" | "depth" | "heads">): string {
  for (const [name, s] of Object.entries(SIZES)) {
    if (s.dim === cfg.dim && s.depth === cfg.depth && s.heads === cfg.heads) return name;
  }
  return "custom";
}

/**
 * A config read from a checkpoint's JSON: one without a family (written
 * before families existed) is ATST-Clip. Throws like {@link validateConfig}.
 *
 * @example
 * ```ts
 * parseConfig('{"size":"tiny",...}').family; // "clip"
 * ```
 */
export function parseConfig(json: string): EncoderConfig {
  const cfg = { family: "clip", ...JSON.parse(json) } as EncoderConfig;
  validateConfig(cfg);
  return cfg;
}

/** Throws an Error naming the first inconsistent field of `cfg`. */
export function validateConfig(cfg: EncoderConfig): void {
  if (!ENCODER_FAMILIES.includes(cfg.family)) {
    throw new Error(`Encoder config: family must be clip or frame, got ${cfg.family}`);
  }
  const ints = ["dim", "depth", "heads", "nMels", "patchFrames", "maxPatches"] as const;
  for (const k of ints) {
    if (!Number.isInteger(cfg[k]) || cfg[k] <= 0) {
      throw new Error(`Encoder config: ${k} must be a positive whole number, got ${cfg[k]}`);
    }
  }
  if (cfg.dim % cfg.heads !== 0) {
    throw new Error(`Encoder config: dim ${cfg.dim} is not a multiple of heads ${cfg.heads}`);
  }
  if (!(cfg.mlpRatio > 0) || !Number.isInteger(cfg.dim * cfg.mlpRatio)) {
    throw new Error(`Encoder config: mlpRatio ${cfg.mlpRatio} does not give a whole MLP width`);
  }
  if (!(cfg.lnEps > 0)) throw new Error(`Encoder config: lnEps must be positive`);
  if (!(cfg.dropPathRate >= 0 && cfg.dropPathRate < 1)) {
    throw new Error(`Encoder config: dropPathRate must be in [0, 1), got ${cfg.dropPathRate}`);
  }
}
