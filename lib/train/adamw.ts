/**
 * AdamW as the reference trains with it (the Hugging Face `transformers`
 * AdamW, REFERENCE.md §3): bias-corrected Adam moments, eps added to the square
 * root of the second moment, and weight decay decoupled from the gradient
 * and applied after the Adam update to the already-updated parameter.
 *
 * @module
 */
import { type Tensor, tf, type Variable } from "../backend/tf.ts";
import { adamwStep } from "../ops/adamw_step.ts";

/** Which parameters are weight-decayed. */
export interface ParamGroups {
  decay: string[];
  noDecay: string[];
}

/**
 * Splits parameters into the two optimiser groups, as DINO's
 * `get_params_groups`: biases and rank-1 parameters (norm scales and
 * shifts) are not decayed; everything of rank >= 2 is.
 *
 * @example
 * ```ts
 * const { decay, noDecay } = paramGroups(encoder.params());
 * ```
 */
export function paramGroups(params: Map<string, Variable>): ParamGroups {
  const decay: string[] = [];
  const noDecay: string[] = [];
  for (const [name, p] of params) {
    if (name.endsWith(".bias") || p.rank <= 1) noDecay.push(name);
    else decay.push(name);
  }
  return { decay, noDecay };
}

/** Hyper-parameters that stay fixed over a run (lr and wd come per step). */
export interface AdamWOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Prefix of the moment variables' names (tfjs variable names are global). */
  name?: string;
}

let instances = 0;

/** AdamW over a named set of tfjs variables, with lazily created moments. */
export class AdamW {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Optimiser steps taken so far (the bias-correction exponent). */
  step = 0;
  #params: Map<string, Variable>;
  #decay: Set<string>;
  #m = new Map<string, Variable>();
  #v = new Map<string, Variable>();
  #prefix: string;

  constructor(params: Map<string, Variable>, opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-6;
    this.#params = params;
    this.#decay = new Set(paramGroups(params).decay);
    this.#prefix = `${opts.name ?? "adamw"}#${instances++}`;
  }

  /**
   * One update of every parameter that has a gradient in `grads`, with
   * learning rate `lr` and weight decay `wd` (the latter only for the
   * decayed group). Gradients are not disposed.
   */
  update(grads: Record<string, Tensor>, lr: number, wd: number): void {
    this.step += 1;
    const { beta1, beta2, eps } = this;
    const bc1 = 1 - beta1 ** this.step;
    const bc2 = 1 - beta2 ** this.step;
    const stepSize = lr * Math.sqrt(bc2) / bc1;
    for (const [name, p] of this.#params) {
      const g = grads[name];
      if (!g) continue;
      const m = this.#moment(this.#m, "m", name, p);
      const v = this.#moment(this.#v, "v", name, p);
      const decay = this.#decay.has(name) && wd > 0 ? -lr * wd : 0;
      const [pNew, mNew, vNew] = adamwStep(p, g, m, v, { beta1, beta2, eps, stepSize, decay });
      m.assign(mNew);
      v.assign(vNew);
      p.assign(pNew);
      tf.dispose([pNew, mNew, vNew]);
    }
  }

  /** The moments as named tensors (`m/<param>`, `v/<param>`), for checkpoints. */
  state(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [k, t] of this.#m) out.set(`m/${k}`, t);
    for (const [k, t] of this.#v) out.set(`v/${k}`, t);
    return out;
  }

  /** Restores moments and the step count saved by {@link state}. */
  loadState(tensors: Map<string, Tensor>, step: number): void {
    this.step = step;
    for (const [key, t] of tensors) {
      const slash = key.indexOf("/");
      const kind = key.slice(0, slash);
      const name = key.slice(slash + 1);
      const p = this.#params.get(name);
      if (!p || (kind !== "m" && kind !== "v")) continue;
      if (t.shape.join() !== p.shape.join()) {
        throw new Error(`Optimizer state '${key}' has shape [${t.shape}], expected [${p.shape}]`);
      }
      this.#moment(kind === "m" ? this.#m : this.#v, kind, name, p).assign(t);
    }
  }

  /** Frees the moment variables. */
  dispose(): void {
    for (const t of this.#m.values()) t.dispose();
    for (const t of this.#v.values()) t.dispose();
    this.#m.clear();
    this.#v.clear();
  }

  #moment(store: Map<string, Variable>, kind: string, name: string, p: Variable): Variable {
    let s = store.get(name);
    if (!s) {
      s = tf.tidy(() => tf.variable(tf.zerosLike(p), false, `${this.#prefix}/${kind}/${name}`));
      store.set(name, s);
    }
    return s;
  }
}
