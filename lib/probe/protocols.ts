/**
 * The linear probe's two training protocols and their settings: the
 * resolved {@link ProbeConfig} a probe run is trained with (and which the
 * report stores), and its per-epoch learning rate.
 *
 * Two protocols:
 * - `reference` (REFERENCE.md §5): BatchNorm1d without affine parameters
 *   (batch statistics while training, running statistics with momentum 0.1
 *   for evaluation), Linear initialised N(0, 0.01) with bias 0, SGD with
 *   momentum 0.9 and no weight decay, lr 0.002 * 1024 / 256, cosine
 *   annealing over 100 epochs, batch 1024; the epoch with the best
 *   validation metric is the one evaluated on test.
 * - `evar` (the EVAR benchmark's habit): standardise with train mean and
 *   standard deviation, Adam (lr 3e-4, L2 weight decay 1e-8), batch 256, up
 *   to 200 epochs, stop after 20 epochs without validation improvement and
 *   restore the best weights.
 *
 * @module
 */

/** Names accepted by `--protocol`. */
export const PROTOCOLS = ["reference", "evar"] as const;
/** One of {@link PROTOCOLS}. */
export type Protocol = typeof PROTOCOLS[number];

/** Resolved training settings (stored in the report). */
export interface ProbeConfig {
  protocol: Protocol;
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: "sgd" | "adam";
  momentum: number;
  weightDecay: number;
  /** Epochs without validation improvement before stopping (0 = never stop early). */
  patience: number;
  schedule: "cosine" | "constant";
  initStd: number;
  seed: number;
}

/** Settings of a protocol, with `--epochs`/`--seed` overrides applied. */
export function protocolConfig(
  protocol: Protocol,
  over: { epochs?: number; seed?: number } = {},
): ProbeConfig {
  const seed = over.seed ?? 0;
  if (protocol === "reference") {
    const batchSize = 1024;
    return {
      protocol,
      epochs: over.epochs ?? 100,
      batchSize,
      lr: 0.002 * batchSize / 256, // the reference's linear scaling rule
      optimizer: "sgd",
      momentum: 0.9,
      weightDecay: 0,
      patience: 0,
      schedule: "cosine",
      initStd: 0.01,
      seed,
    };
  }
  return {
    protocol,
    epochs: over.epochs ?? 200,
    batchSize: 256,
    lr: 3e-4,
    optimizer: "adam",
    momentum: 0,
    weightDecay: 1e-8,
    patience: 20,
    schedule: "constant",
    initStd: 0.01,
    seed,
  };
}

/** Learning rate per epoch, asserted to have one entry per epoch. */
export function lrSchedule(cfg: ProbeConfig): number[] {
  const lrs = Array.from(
    { length: cfg.epochs },
    (_, e) =>
      cfg.schedule === "cosine" ? cfg.lr * 0.5 * (1 + Math.cos(Math.PI * e / cfg.epochs)) : cfg.lr,
  );
  if (lrs.length !== cfg.epochs) throw new Error("lr schedule length mismatch");
  return lrs;
}
