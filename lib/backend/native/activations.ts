/**
 * Activations applied in place to a fused matmul's output (the set tfjs's
 * fused ops accept, less prelu, which needs a weights tensor).
 *
 * @module
 */

const NAMES = new Set(["linear", "relu", "relu6", "elu", "leakyrelu", "sigmoid"]);

/** Whether {@link applyActivationInPlace} knows `name`. */
export function hasInPlaceActivation(name: string): boolean {
  return NAMES.has(name);
}

/** Applies tfjs activation `name` to every element of `v`. */
export function applyActivationInPlace(v: Float32Array, name: string, alpha: number): void {
  const n = v.length;
  switch (name) {
    case "linear":
      return;
    case "relu":
      for (let i = 0; i < n; i++) if (v[i]! < 0) v[i] = 0;
      return;
    case "relu6":
      for (let i = 0; i < n; i++) v[i] = Math.min(Math.max(v[i]!, 0), 6);
      return;
    case "elu":
      for (let i = 0; i < n; i++) if (v[i]! < 0) v[i] = Math.exp(v[i]!) - 1;
      return;
    case "leakyrelu":
      for (let i = 0; i < n; i++) if (v[i]! < 0) v[i] = v[i]! * alpha;
      return;
    case "sigmoid":
      for (let i = 0; i < n; i++) v[i] = 1 / (1 + Math.exp(-v[i]!));
      return;
    default:
      throw new Error(`Activation '${name}' is not implemented by the native backend`);
  }
}
