/**
 * Scalar exp and erf for float32 kernels, several times faster in V8 than
 * `Math.exp` (which is correctly rounded in float64, far more than float32
 * outputs need). Both are accurate to about 1e-7 relative (exp) or absolute
 * (erf), below float32's rounding of the results.
 *
 * @module
 */

// 2^k for k in [-150, 127], so exp can scale without Math.pow.
const POW2 = new Float64Array(278);
for (let k = -150; k <= 127; k++) POW2[k + 150] = 2 ** k;

/** e^x for float32 use: Cody-Waite reduction to |r| <= ln2/2, degree-7 Taylor polynomial. */
export function fastExp(x: number): number {
  if (!(x > -103)) return x !== x ? x : 0; // NaN stays NaN; far below float32's range gives 0
  if (x > 88.8) return Infinity;
  const n = Math.round(x * 1.4426950408889634);
  const r = x - n * 0.6931471805599453;
  const p = 1 +
    r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120 + r * (1 / 720 + r / 5040))))));
  return p * POW2[n + 150]!;
}

/**
 * erf(x) as a rational function of x on [-4, 4] (|erf| rounds to 1 in
 * float32 beyond), the form XLA and Eigen use: max error 6.5e-8.
 */
export function fastErf(x: number): number {
  const c = x < -4 ? -4 : x > 4 ? 4 : x;
  const x2 = c * c;
  let p = -2.72614225801306e-10;
  p = p * x2 + 2.77068142495902e-8;
  p = p * x2 - 2.10102402082508e-6;
  p = p * x2 - 5.69250639462346e-5;
  p = p * x2 - 7.34990630326855e-4;
  p = p * x2 - 2.95459980854025e-3;
  p = p * x2 - 1.60960333262415e-2;
  let q = -1.45660718464996e-5;
  q = q * x2 - 2.13374055278905e-4;
  q = q * x2 - 1.68282697438203e-3;
  q = q * x2 - 7.37332916720468e-3;
  q = q * x2 - 1.42647390514189e-2;
  return (c * p) / q;
}
