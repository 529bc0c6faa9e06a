/**
 * An independent float64 implementation of docs/algorithm.md (§2-§5) for the golden-trajectory test: plain
 * TypeScript, written from that text, sharing no code with the native engine. Small sizes only.
 * Network: dense layers, tanh or ReLU hidden units, a linear or tanh output, ½ squared error or sigmoid
 * cross-entropy on logits. H_g of K-BFGS(L) uses the two-loop recursion (the native code uses the compact form;
 * algorithm.md §4 says both are exact).
 */

export type Vec = Float64Array;
/** Row-major d x n matrix. */
export interface Mat { rows: number; cols: number; a: Float64Array }

const mat = (rows: number, cols: number): Mat => ({ rows, cols, a: new Float64Array(rows * cols) });
const eye = (n: number): Mat => { const m = mat(n, n); for (let i = 0; i < n; i++) m.a[i * n + i] = 1; return m; };
const clone = (m: Mat): Mat => ({ rows: m.rows, cols: m.cols, a: Float64Array.from(m.a) });
const dot = (x: Vec, y: Vec) => x.reduce((s, v, i) => s + v * y[i], 0);

/** op(A) op(B). */
function mul(A: Mat, B: Mat, ta = false, tb = false): Mat {
  const m = ta ? A.cols : A.rows, k = ta ? A.rows : A.cols, n = tb ? B.rows : B.cols;
  const C = mat(m, n);
  for (let i = 0; i < m; i++)
    for (let p = 0; p < k; p++) {
      const aip = ta ? A.a[p * A.cols + i] : A.a[i * A.cols + p];
      if (aip === 0) continue;
      for (let j = 0; j < n; j++) C.a[i * n + j] += aip * (tb ? B.a[j * B.cols + p] : B.a[p * B.cols + j]);
    }
  return C;
}
const matvec = (A: Mat, x: Vec): Vec => Float64Array.from({ length: A.rows }, (_, i) => {
  let s = 0;
  for (let j = 0; j < A.cols; j++) s += A.a[i * A.cols + j] * x[j];
  return s;
});
const colMean = (A: Mat): Vec => {
  const out = new Float64Array(A.cols);
  for (let i = 0; i < A.rows; i++) for (let j = 0; j < A.cols; j++) out[j] += A.a[i * A.cols + j] / A.rows;
  return out;
};
const addDiag = (A: Mat, v: number): Mat => { const B = clone(A); for (let i = 0; i < A.rows; i++) B.a[i * A.cols + i] += v; return B; };
const meanDiagonal = (A: Mat) => { let s = 0; for (let i = 0; i < A.rows; i++) s += A.a[i * A.cols + i]; return s / A.rows; };

export type DampingSplit = 'even' | 'trace';
/**
 * KFAC's damped factors (algorithm.md §5.2): [A + π√λ I, G + (√λ/π) I] with π = 1 for the even split and
 * π = √((tr A/n)/(tr G/d)) for the trace split (1 where either trace is not positive).
 */
export function kfacDamped(A: Mat, G: Mat, sqrtLambda: number, split: DampingSplit): [Mat, Mat] {
  const a = meanDiagonal(A), g = meanDiagonal(G);
  const pi = split === 'trace' && a > 0 && g > 0 ? Math.sqrt(a / g) : 1;
  return [addDiag(A, sqrtLambda * pi), addDiag(G, sqrtLambda / pi)];
}
/** (1/m) XᵀX: over all rows (G of KFAC: a convolution's locations averaged), or with m given (A: a
 * convolution's m·T patch rows summed per sample, algorithm.md §12). */
const gram = (X: Mat, m = X.rows): Mat => { const G = mul(X, X, true, false); G.a.forEach((v, i) => (G.a[i] = v / m)); return G; };
const blend = (A: Mat, B: Mat, wa: number, wb: number): Mat => ({ rows: A.rows, cols: A.cols, a: A.a.map((v, i) => wa * v + wb * B.a[i]) });

/** Inverse of an SPD matrix by Gauss-Jordan elimination in float64. */
export function inverse(A: Mat): Mat {
  const n = A.rows, w = 2 * n;
  const T = new Float64Array(n * w);
  for (let i = 0; i < n; i++) { for (let j = 0; j < n; j++) T[i * w + j] = A.a[i * n + j]; T[i * w + n + i] = 1; }
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(T[r * w + c]) > Math.abs(T[piv * w + c])) piv = r;
    for (let j = 0; j < w; j++) [T[c * w + j], T[piv * w + j]] = [T[piv * w + j], T[c * w + j]];
    const p = T[c * w + c];
    for (let j = 0; j < w; j++) T[c * w + j] /= p;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = T[r * w + c];
      if (f !== 0) for (let j = 0; j < w; j++) T[r * w + j] -= f * T[c * w + j];
    }
  }
  const out = mat(n, n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out.a[i * n + j] = T[i * w + n + j];
  return out;
}

// ---- the network -----------------------------------------------------------------------------------------

export interface Pass { abar: Mat[]; h: Mat[]; g: Mat[]; loss: number; grads: Mat[]; output: Mat }
export type Activation = 'tanh' | 'relu' | 'linear';
export type LossKind = 'halfSquaredError' | 'sigmoidCrossEntropy';
/** Hidden units, output units and the per-sample loss (sigmoid cross-entropy needs a linear output); per layer
 * a convolution's geometry or null (dense), all dense when absent. */
export interface Net { hidden: Activation; output: Activation; loss: LossKind; geometry?: Array<ConvGeometry | null> }

const phi: Record<Activation, (h: number) => number> = { tanh: Math.tanh, relu: (h) => Math.max(h, 0), linear: (h) => h };
/** dφ/dh at the pre-activation h. */
const dphi: Record<Activation, (h: number) => number> = {
  tanh: (h) => 1 - Math.tanh(h) ** 2, relu: (h) => (h > 0 ? 1 : 0), linear: () => 1,
};
export const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/**
 * A convolution (algorithm.md §12), written from its definition: output (oy, ox) of filter o is
 * Σ_{ky,kx,c} W[o][(ky·k + kx)·C + c] · x[c][oy·stride − pad + ky][ox·stride − pad + kx] + b[o] (zero outside
 * the image), then the hidden activation, then optional pooling; `null` in Net.geometry is a dense layer.
 */
export interface ConvGeometry { channels: number; height: number; width: number; kernel: number; stride: number; pad: number; pool?: { kind: 'max' | 'avg'; size: number } }

/** A per-sample image, channel-major: img[(c·H + y)·W + x]. */
interface Image { c: number; h: number; w: number; a: Float64Array }
const outSize = (g: ConvGeometry) => [Math.floor((g.height + 2 * g.pad - g.kernel) / g.stride) + 1, Math.floor((g.width + 2 * g.pad - g.kernel) / g.stride) + 1];

/** The patch rows of every sample and location: (m·T) x (k·k·C + 1), columns (ky, kx, c), then the 1. */
function patchRows(images: Image[], g: ConvGeometry): Mat {
  const [oh, ow] = outSize(g), k = g.kernel, C = g.channels, n = k * k * C + 1;
  const P = mat(images.length * oh * ow, n);
  images.forEach((img, i) => {
    for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
      const row = (i * oh * ow + oy * ow + ox) * n;
      for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) for (let c = 0; c < C; c++) {
        const y = oy * g.stride - g.pad + ky, x = ox * g.stride - g.pad + kx;
        if (y >= 0 && y < img.h && x >= 0 && x < img.w) P.a[row + (ky * k + kx) * C + c] = img.a[(c * img.h + y) * img.w + x];
      }
      P.a[row + n - 1] = 1;
    }
  });
  return P;
}

/** Rows (i·T + t) x channels of a convolution's activations as per-sample images, pooled if asked. */
function toImages(rows: Mat, m: number, g: ConvGeometry, f: (v: number) => number): { raw: Image[]; out: Image[] } {
  const [oh, ow] = outSize(g), C = rows.cols;
  const raw = Array.from({ length: m }, (_, i) => {
    const a = new Float64Array(C * oh * ow);
    for (let t = 0; t < oh * ow; t++) for (let c = 0; c < C; c++) a[c * oh * ow + t] = f(rows.a[(i * oh * ow + t) * C + c]);
    return { c: C, h: oh, w: ow, a };
  });
  if (!g.pool) return { raw, out: raw };
  const s = g.pool.size, ph = Math.floor(oh / s), pw = Math.floor(ow / s);
  const out = raw.map((img) => {
    const a = new Float64Array(C * ph * pw);
    for (let c = 0; c < C; c++) for (let py = 0; py < ph; py++) for (let px = 0; px < pw; px++) {
      const window: number[] = [];
      for (let wy = 0; wy < s; wy++) for (let wx = 0; wx < s; wx++) window.push(img.a[(c * oh + py * s + wy) * ow + px * s + wx]);
      a[(c * ph + py) * pw + px] = g.pool!.kind === 'max' ? Math.max(...window) : window.reduce((x, y) => x + y, 0) / window.length;
    }
    return { c: C, h: ph, w: pw, a };
  });
  return { raw, out };
}

/** The dense view of per-sample images: values ordered (y, x, c) as the engine flattens them. */
function flattenHwc(images: Image[]): Mat {
  const { c: C, h: H, w: W } = images[0];
  const X = mat(images.length, C * H * W);
  images.forEach((img, i) => { for (let c = 0; c < C; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) X.a[i * C * H * W + (y * W + x) * C + c] = img.a[(c * H + y) * W + x]; });
  return X;
}

/** Forward (and backward with per-sample g = dℓ_i/dh); the loss is the batch mean of ℓ_i summed over outputs. */
export function pass(W: Mat[], X: Mat, T: Mat, withGrads: boolean, net: Net): Pass {
  const L = W.length, m = X.rows;
  const abar: Mat[] = [], h: Mat[] = [], images: Array<Image[] | null> = [];
  let input = X;
  let pictures: Image[] | null = null;  // the current tensor as images, while it is one
  const first = net.geometry?.[0];
  if (first) pictures = Array.from({ length: m }, (_, i) => ({ c: first.channels, h: first.height, w: first.width, a: Float64Array.from(X.a.subarray(i * X.cols, (i + 1) * X.cols)) }));
  for (let l = 0; l < L; l++) {
    const geo = net.geometry?.[l] ?? null;
    const f = phi[l + 1 < L ? net.hidden : net.output];
    let A: Mat;
    if (geo) {
      A = patchRows(pictures!, geo);
      images.push(pictures);
    } else {
      if (pictures) input = flattenHwc(pictures);
      pictures = null;
      const n = input.cols + 1;
      A = mat(m, n);
      for (let i = 0; i < m; i++) { for (let j = 0; j < n - 1; j++) A.a[i * n + j] = input.a[i * input.cols + j]; A.a[i * n + n - 1] = 1; }
      images.push(null);
    }
    abar.push(A);
    const H = mul(A, W[l], false, true);
    h.push(H);
    if (geo) pictures = toImages(H, m, geo, f).out;
    else input = { rows: m, cols: H.cols, a: H.a.map(f) };
  }
  let loss = 0;
  const gL = mat(m, input.cols), z = h[L - 1];
  input.a.forEach((v, i) => {
    const t = T.a[i];
    if (net.loss === 'halfSquaredError') {
      loss += 0.5 * (v - t) ** 2;
      gL.a[i] = (v - t) * dphi[net.output](z.a[i]);
    } else {
      loss += Math.max(v, 0) - v * t + Math.log1p(Math.exp(-Math.abs(v)));
      gL.a[i] = sigmoid(v) - t;
    }
  });
  return { abar, h, loss: loss / m, output: input, ...backward(W, h, abar, gL, withGrads, net) };
}

/** The gradient of the images a convolution read, from the gradient of its patch rows (by scattering). */
function unpatch(dP: Mat, m: number, g: ConvGeometry): Image[] {
  const [oh, ow] = outSize(g), k = g.kernel, C = g.channels;
  return Array.from({ length: m }, (_, i) => {
    const a = new Float64Array(C * g.height * g.width);
    for (let t = 0; t < oh * ow; t++) for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) for (let c = 0; c < C; c++) {
      const y = Math.floor(t / ow) * g.stride - g.pad + ky, x = (t % ow) * g.stride - g.pad + kx;
      if (y >= 0 && y < g.height && x >= 0 && x < g.width) a[(c * g.height + y) * g.width + x] += dP.a[(i * oh * ow + t) * dP.cols + (ky * k + kx) * C + c];
    }
    return { c: C, h: g.height, w: g.width, a };
  });
}

/** g of a convolution (rows i·T + t) from the gradient of its pooled output images. */
function convRowsGradient(dOut: Image[], H: Mat, g: ConvGeometry, f: (v: number) => number, df: (v: number) => number): Mat {
  const m = dOut.length, [oh, ow] = outSize(g), C = H.cols;
  const { raw } = toImages(H, m, g, f);
  const G = mat(m * oh * ow, C);
  dOut.forEach((d, i) => {
    const dRaw = new Float64Array(C * oh * ow);
    if (!g.pool) dRaw.set(d.a);
    else {
      const s = g.pool.size;
      for (let c = 0; c < C; c++) for (let py = 0; py < d.h; py++) for (let px = 0; px < d.w; px++) {
        const grad = d.a[(c * d.h + py) * d.w + px];
        let best = -1;
        for (let wy = 0; wy < s; wy++) for (let wx = 0; wx < s; wx++) {
          const at = (c * oh + py * s + wy) * ow + px * s + wx;
          if (g.pool.kind === 'avg') dRaw[at] += grad / (s * s);
          else if (best < 0 || raw[i].a[at] > raw[i].a[best]) best = at;
        }
        if (g.pool.kind === 'max') dRaw[best] += grad;
      }
    }
    for (let t = 0; t < oh * ow; t++) for (let c = 0; c < C; c++) G.a[(i * oh * ow + t) * C + c] = dRaw[c * oh * ow + t] * df(H.a[(i * oh * ow + t) * C + c]);
  });
  return G;
}

/** g for every layer from the output gradient; optionally the mean-loss weight gradients. */
export function backward(W: Mat[], h: Mat[], abar: Mat[], gL: Mat, withGrads: boolean, net: Net): { g: Mat[]; grads: Mat[] } {
  const L = W.length, m = gL.rows, geometry = net.geometry ?? [];
  const g: Mat[] = new Array(L);
  g[L - 1] = gL;
  for (let l = L - 1; l > 0; l--) {
    const full = mul(g[l], W[l]);  // rows x n_l; the bias column is not used
    const below = geometry[l - 1];
    if (!below) {
      const d = h[l - 1].cols;
      const G = mat(m, d);
      for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) G.a[i * d + j] = full.a[i * full.cols + j] * dphi[net.hidden](h[l - 1].a[i * d + j]);
      g[l - 1] = G;
      continue;
    }
    let dOut: Image[];
    const here = geometry[l];
    if (here) dOut = unpatch(full, m, here);
    else {  // a dense layer reads the flattened (y, x, c) values of the images below
      const [oh, ow] = outSize(below), s = below.pool?.size ?? 1, C = h[l - 1].cols;
      const ph = Math.floor(oh / s), pw = Math.floor(ow / s);
      dOut = Array.from({ length: m }, (_, i) => {
        const a = new Float64Array(C * ph * pw);
        for (let c = 0; c < C; c++) for (let y = 0; y < ph; y++) for (let x = 0; x < pw; x++) a[(c * ph + y) * pw + x] = full.a[i * full.cols + (y * pw + x) * C + c];
        return { c: C, h: ph, w: pw, a };
      });
    }
    g[l - 1] = convRowsGradient(dOut, h[l - 1], below, phi[net.hidden], dphi[net.hidden]);
  }
  const grads = withGrads ? g.map((G, l) => { const D = mul(G, abar[l], true, false); D.a.forEach((v, i) => (D.a[i] = v / m)); return D; }) : [];
  return { g, grads };
}

// ---- pieces of the algorithm --------------------------------------------------------------------------------

/** §3.5: BFGS inverse update with the skip rules; returns the new H (or H itself when skipped). */
export function bfgs(H: Mat, s: Vec, y: Vec, refNorm: number): { H: Mat; updated: boolean } {
  const sy = dot(s, y), ss = dot(s, s);
  if (sy <= 0 || sy <= 1e-4 * ss * refNorm) return { H, updated: false };
  const Hy = matvec(H, y), yHy = dot(y, Hy), rho = 1 / sy, n = H.rows;
  const out = clone(H);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) out.a[i * n + j] += (rho * rho * yHy + rho) * s[i] * s[j] - rho * (s[i] * Hy[j] + Hy[i] * s[j]);
  if (out.a.some((v) => !Number.isFinite(v))) return { H, updated: false };
  return { H: out, updated: true };
}

/** §3.4: Powell on H (μ₁ = 0.2) then Powell with B = I (μ₂); says which of the two changed the pair. */
export function doubleDamping(applyH: (v: Vec) => Vec, s0: Vec, y0: Vec, mu2: number): { s: Vec; y: Vec; powell: boolean; lm: boolean } {
  let s = Float64Array.from(s0), y = Float64Array.from(y0);
  const Hy = applyH(y), yHy = dot(y, Hy);
  let sy = dot(s, y);
  const powell = sy / yHy <= 0.2;
  if (powell) {
    const t1 = 0.8 * yHy / (yHy - sy);
    s = s.map((v, i) => t1 * v + (1 - t1) * Hy[i]);
  }
  const ss = dot(s, s);
  sy = dot(s, y);
  const lm = sy / ss <= mu2;
  if (lm) {
    const t2 = (1 - mu2) * ss / (ss - sy);
    y = y.map((v, i) => t2 * v + (1 - t2) * s[i]);
  }
  return { s, y, powell, lm };
}

/** §4: L-BFGS two-loop recursion with H₀ = I over pairs (oldest first). */
export function twoLoop(pairs: Array<{ s: Vec; y: Vec }>, v: Vec): Vec {
  const q = Float64Array.from(v);
  const alpha: number[] = [];
  for (let i = pairs.length - 1; i >= 0; i--) {
    const { s, y } = pairs[i];
    alpha[i] = dot(s, q) / dot(s, y);
    for (let j = 0; j < q.length; j++) q[j] -= alpha[i] * y[j];
  }
  for (let i = 0; i < pairs.length; i++) {
    const { s, y } = pairs[i];
    const beta = dot(y, q) / dot(s, y);
    for (let j = 0; j < q.length; j++) q[j] += s[j] * (alpha[i] - beta);
  }
  return q;
}

// ---- training loops ----------------------------------------------------------------------------------------

export interface Problem {
  W: Mat[]; X: Mat; batch: number;
  /** Default: tanh hidden units, a linear output, ½ squared error, τ = 1e-5. */
  hidden?: Activation; tanhOutput?: boolean; loss?: LossKind; tau?: number;
  /** Per layer a convolution's geometry or null (dense); all dense when absent. */
  geometry?: Array<ConvGeometry | null>;
  /** Round the weights to float32 after every step, as the engine stores them (default: float64 throughout). */
  float32Weights?: boolean;
  /** The step rules of algorithm.md §15: the gradient clipped to this global norm, lr × lrFactor(k) at step k. */
  clipNorm?: number;
  lrFactor?: (k: number) => number;
  /** Adaptive damping (algorithm.md §19): λ judged at every `every`-th step, kept within [min, max]. */
  adaptiveDamping?: AdaptiveDamping;
}

// ---- adaptive damping (algorithm.md §19) --------------------------------------------------------------------

/**
 * `scaledStart`: λ at step 0 from that step's scale (§19.7) instead of the given start, and no step judged before
 * the momentum's warm-up, ρ/(1 − ρ) = 9 steps, is over.
 */
export interface AdaptiveDamping { every: number; min: number; max: number; scaledStart?: boolean }
const judges = (a: AdaptiveDamping | undefined, k: number) => a !== undefined && k % a.every === 0 && (!a.scaledStart || k >= 9);
/** One judged step: the model's change M(δ) − M(0), the objective's h(θ + δ) − h(θ), ρ, and λ after the rule. */
export interface JudgedStep { step: number; model: number; objective: number; rho: number; lambda: number }

/**
 * The rule of §19.1: ρ > 3/4 → ωλ, ρ < 1/4 (or NaN) → λ/ω, ω = (19/20)^T, then clamped. Where the model predicts
 * no decrease (model change ≥ 0) there is no ρ: the same thresholds judge the share of the first-order decrease
 * −ĝᵀδ (`firstOrder`) that the objective achieved, and a step uphill to first order (firstOrder ≤ 0) raises λ.
 */
export function nextDamping(lambda: number, model: number, objective: number, a: AdaptiveDamping, firstOrder: number): { rho: number; lambda: number } {
  const omega = (19 / 20) ** a.every;
  const clamp = (v: number) => Math.min(a.max, Math.max(a.min, v));
  const rule = (ratio: number) => clamp(ratio > 0.75 ? lambda * omega : ratio >= 0.25 ? lambda : lambda / omega);
  if (!(model < 0)) return { rho: NaN, lambda: rule(firstOrder > 0 ? -objective / firstOrder : 0) };
  const rho = objective / model;
  return { rho, lambda: rule(rho) };
}

/**
 * The scaled start of §19.7: λ₀ = α‖ĝ₀‖/‖θ₀‖ with ĝ₀ = ∇L_B(θ₀) + τθ₀ (the step's gradient, after any clipping),
 * formed from the vector ĝ₀ itself; clamped to [min, max], `fallback` where it is not a positive finite number.
 */
export function scaledStart(alpha: number, grads: Mat[], W: Mat[], tau: number, fallback: number, a: AdaptiveDamping): number {
  const ghat = plus(grads, W, tau);
  const norm2 = (X: Mat[]) => X.reduce((sum, x) => sum + dot(x.a, x.a), 0);
  const start = alpha * Math.sqrt(norm2(ghat)) / Math.sqrt(norm2(W));
  return Number.isFinite(start) && start > 0 ? Math.min(a.max, Math.max(a.min, start)) : fallback;
}

/**
 * M(δ) − M(0) = ½ δᵀBδ + ĝᵀδ with B the curvature whose inverse preconditions the step, per layer the Kronecker
 * product of `left` (d × d) and `right` (n × n) acting as X ↦ left·X·right (§19.2), formed explicitly here.
 */
export function modelChange(delta: Mat[], ghat: Mat[], left: Mat[], right: Mat[]): number {
  return delta.reduce((sum, d, l) => sum + 0.5 * dot(d.a, mul(mul(left[l], d), right[l]).a) + dot(ghat[l].a, d.a), 0);
}

/**
 * A judged step k waits for the next minibatch B' (§19.1): its weights θ_k, its step δ = θ_{k+1} − θ_k and the
 * curvature of its model (per layer X ↦ left·X·right), judged at step k + 1 on B'.
 */
interface PendingJudgement { step: number; W: Mat[]; delta: Mat[]; left: Mat[]; right: Mat[] }

/** h(θ) = L_B(θ) + (τ/2)‖θ‖², the objective whose gradient is ĝ. */
const objective = (loss: number, W: Mat[], tau: number) => loss + 0.5 * tau * W.reduce((sum, w) => sum + dot(w.a, w.a), 0);
const plus = (A: Mat[], B: Mat[], b = 1): Mat[] => A.map((x, l) => ({ ...x, a: x.a.map((v, i) => v + b * B[l].a[i]) }));

const stored = (W: Mat[], problem: Problem): Mat[] => (problem.float32Weights ? W.map((w) => ({ ...w, a: w.a.map(Math.fround) })) : W);

/**
 * The judgement of a pending step on the current minibatch B' at the current weights θ_{k+1}, whose loss the
 * step computed anyway (`lossAtW`): one pass with gradients at the kept θ_k gives h_B'(θ_k) and the model's
 * linear term ĝ = ∇L_B'(θ_k) + τθ_k. Records it in `judged`; returns λ after the rule.
 */
function judgeOnNextBatch(net: Net, tau: number, adaptive: AdaptiveDamping | undefined, judged: JudgedStep[], lambda: () => number) {
  return (pending: PendingJudgement, W: Mat[], B: Mat, lossAtW: number): number => {
    const atStart = pass(pending.W, B, B, true, net);
    const ghat = plus(atStart.grads, pending.W, tau);
    const model = modelChange(pending.delta, ghat, pending.left, pending.right);
    const change = objective(lossAtW, W, tau) - objective(atStart.loss, pending.W, tau);
    const firstOrder = -ghat.reduce((sum, g, l) => sum + dot(g.a, pending.delta[l].a), 0);
    const rule = nextDamping(lambda(), model, change, adaptive!, firstOrder);
    judged.push({ step: pending.step, model, objective: change, ...rule });
    return rule.lambda;
  };
}
/** Counts are over all layers and steps: Powell and LM damping applied, H_g and H_a updates skipped. */
export interface Trajectory {
  batchLosses: number[]; W: Mat[]; counts: { powell: number; lm: number; hgSkipped: number; haSkipped: number };
  /** Under adaptive damping: every judged step (algorithm.md §19), and λ at the first step (§19.7). */
  judged?: JudgedStep[];
  startDamping?: number;
  /** Steps whose gradient was clipped (algorithm.md §15.2), where the method reports them. */
  clippedSteps?: number;
  /** The same run with some of the problem changed (golden-harness.ts: the weights stored in float32). */
  rerun: (changes: Partial<Problem>) => Trajectory;
}
const netOf = (p: Problem): Net => ({ hidden: p.hidden ?? 'tanh', output: p.tanhOutput ? 'tanh' : 'linear', loss: p.loss ?? 'halfSquaredError', geometry: p.geometry });

function batchRows(X: Mat, start: number, m: number): Mat {
  return { rows: m, cols: X.cols, a: X.a.slice(start * X.cols, (start + m) * X.cols) };
}

/** The data order of algorithm.md §2.1 without shuffling: batches in stored order, cyclically. */
function batches(X: Mat, m: number): (b: number) => Mat {
  const count = Math.floor(X.rows / m);
  return (b) => batchRows(X, (b % count) * m, m);
}

/** The minibatch gradient scaled to norm clipNorm when its norm over all layers is larger (algorithm.md §15.2). */
export function clipGradient(grads: Mat[], clipNorm?: number): { grads: Mat[]; clipped: boolean } {
  const norm = Math.sqrt(grads.reduce((sum, g) => sum + dot(g.a, g.a), 0));
  if (clipNorm === undefined || norm <= clipNorm) return { grads, clipped: false };
  return { grads: grads.map((g) => ({ ...g, a: g.a.map((v) => (v * clipNorm) / norm) })), clipped: true };
}
const lrAt = (problem: Problem, lr: number, k: number) => lr * (problem.lrFactor ? problem.lrFactor(k) : 1);

/** M ← 0.9 M + 0.1 (∇ + τθ) per layer (algorithm.md §2 step 4). */
function momentum(M: Mat[], grads: Mat[], W: Mat[], tau: number): Mat[] {
  return M.map((Ml, l) => ({ ...Ml, a: Ml.a.map((v, i) => 0.9 * v + 0.1 * (grads[l].a[i] + tau * W[l].a[i])) }));
}

/** K-BFGS (memory = 0) or K-BFGS(L) (memory = p) for `steps` steps, algorithm.md §3 and §4. */
export function kbfgs(problem: Problem, lr: number, startLambda: number, steps: number, memory = 0, curvatureEvery = 1): Trajectory {
  let W = problem.W.map(clone), lambda = startLambda, startDamping = startLambda;
  const m = problem.batch, count = Math.floor(problem.X.rows / m), next = batches(problem.X, m);
  const L = W.length, net = netOf(problem), tau = problem.tau ?? 1e-5, adaptive = problem.adaptiveDamping;
  const counts = { powell: 0, lm: 0, hgSkipped: 0, haSkipped: 0 };
  const judged: JudgedStep[] = [];
  let reinvert = false;  // λ changed: H_a starts again from (A + √λI)⁻¹ at the next step (§19.3)
  let pending: PendingJudgement | undefined;
  const judge = judgeOnNextBatch(net, tau, adaptive, judged, () => lambda);
  // warm start of A: one pass at θ₀ (algorithm.md §3.2), consuming one epoch of batches
  let A = W.map((w) => mat(w.cols, w.cols));
  for (let j = 1; j <= count; j++) {
    const B = next(j - 1);
    const p = pass(W, B, B, false, net);
    A = A.map((Al, l) => blend(Al, gram(p.abar[l], m), (j - 1) / j, 1 / j));
  }
  let Hg = W.map((w) => eye(w.rows));
  const pairs: Array<Array<{ s: Vec; y: Vec }>> = W.map(() => []);
  let Ha: Mat[] = [];
  let sbar = W.map((w) => new Float64Array(w.rows)), ybar = W.map((w) => new Float64Array(w.rows));
  let M = W.map((w) => mat(w.rows, w.cols));
  const losses: number[] = [];
  const applyHg = (l: number, v: Vec) => (memory > 0 ? twoLoop(pairs[l], v) : matvec(Hg[l], v));
  for (let k = 0; k < steps; k++) {
    const B = next(count + k);
    const p = pass(W, B, B, true, net);
    losses.push(p.loss);
    const grads = clipGradient(p.grads, problem.clipNorm).grads;
    if (k === 0 && adaptive?.scaledStart) lambda = startDamping = scaledStart(lrAt(problem, lr, 0), grads, W, tau, lambda, adaptive);
    const sq = Math.sqrt(lambda);
    M = momentum(M, grads, W, tau);
    // only every curvatureEvery-th step updates A, the pairs, H_g and H_a (algorithm.md §12.4)
    const curvature = k % curvatureEvery === 0;
    // a convolution keeps its warm-start A; its H_a learns from the batch's own patches (algorithm.md §12.4)
    if (k > 0 && curvature) A = A.map((Al, l) => (problem.geometry?.[l] ? Al : blend(Al, gram(p.abar[l], m), 0.9, 0.1)));
    const Alm = A.map((Al) => addDiag(Al, sq));
    if (k === 0 || reinvert) Ha = Alm.map(inverse);
    reinvert = false;
    // H_g as a matrix, for the model of a judged step (K-BFGS(L): its operator applied to I's columns)
    const HgMatrix = (l: number) => {
      if (memory === 0) return Hg[l];
      const d = W[l].rows, H = mat(d, d);
      for (let c = 0; c < d; c++) applyHg(l, Float64Array.from({ length: d }, (_, i) => +(i === c))).forEach((v, i) => (H.a[i * d + c] = v));
      return H;
    };
    const judging = judges(adaptive, k);
    const curvatureBefore = judging ? { left: W.map((_, l) => inverse(HgMatrix(l))), right: Ha.map(inverse) } : undefined;
    const delta = W.map((_, l) => {
      const Ml = M[l];
      const HgM = mat(Ml.rows, Ml.cols);  // H_g applied column by column
      for (let c = 0; c < Ml.cols; c++) {
        const col = Float64Array.from({ length: Ml.rows }, (_, i) => Ml.a[i * Ml.cols + c]);
        applyHg(l, col).forEach((v, i) => (HgM.a[i * Ml.cols + c] = v));
      }
      return mul(HgM, Ha[l]);
    });
    const Wnew = W.map((w, l) => ({ ...w, a: w.a.map((v, i) => v - lrAt(problem, lr, k) * delta[l].a[i]) }));
    const p2 = curvature ? pass(Wnew, B, B, false, net) : p;
    for (let l = 0; l < L && curvature; l++) {
      const gRef = colMean(p.g[l]);
      const s = colMean(p.h[l]).map((v, i) => v - colMean(p2.h[l])[i]);
      const y = gRef.map((v, i) => v - colMean(p2.g[l])[i]);
      sbar[l] = sbar[l].map((v, i) => 0.9 * v + 0.1 * s[i]);
      ybar[l] = ybar[l].map((v, i) => 0.9 * v + 0.1 * y[i]);
      const damped = doubleDamping((v) => applyHg(l, v), sbar[l], ybar[l], sq);
      counts.powell += +damped.powell;
      counts.lm += +damped.lm;
      const refNorm = Math.sqrt(dot(gRef, gRef));
      if (memory > 0) {
        const ss = dot(damped.s, damped.s);
        if (Number.isFinite(ss) && dot(damped.y, damped.s) > 1e-4 * ss * refNorm) {
          pairs[l].push({ s: damped.s, y: damped.y });
          if (pairs[l].length > memory) pairs[l].shift();
        }
      } else {
        const update = bfgs(Hg[l], damped.s, damped.y, refNorm);
        Hg[l] = update.H;
        counts.hgSkipped += +!update.updated;
      }
      const u = colMean(p.abar[l]);
      const sa = matvec(Ha[l], u);
      const ya = problem.geometry?.[l] ? matvec(addDiag(gram(p.abar[l], m), sq), sa) : matvec(Alm[l], sa);
      const update = bfgs(Ha[l], sa, ya, Math.sqrt(dot(u, u)));
      Ha[l] = update.H;
      counts.haSkipped += +!update.updated;
    }
    const decided = pending && adaptive ? judge(pending, W, B, p.loss) : lambda;
    pending = judging && curvatureBefore ? { step: k, W, delta: plus(Wnew, W, -1), ...curvatureBefore } : undefined;
    reinvert = decided !== lambda;  // after this step's updates, which used the λ it started with
    lambda = decided;
    W = stored(Wnew, problem);
  }
  return {
    batchLosses: losses, W, counts, judged, startDamping,
    rerun: (changes) => kbfgs({ ...problem, ...changes }, lr, startLambda, steps, memory, curvatureEvery),
  };
}

// SplitMix64 in BigInt: the counter-based uniforms the native sampler uses (rng.h).
const MASK = (1n << 64n) - 1n;
function mix(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return z ^ (z >> 31n);
}
const uniformAt = (seed: bigint, i: number) => Number(mix((seed + BigInt(i + 1) * 0x9e3779b97f4a7c15n) & MASK) >> 11n) * 2 ** -53;

/**
 * KFAC (algorithm.md §5) with sampled targets, call c using seed mix(seed + c): N(z, 1) for ½SSE (uniforms 2i
 * and 2i + 1 of the call, Box-Muller), Bernoulli(sigmoid(z)) for sigmoid cross-entropy (uniform 2i). With
 * curvatureEvery r (§5.1) only steps k ≡ 0 (mod r) draw targets and update A and G, and the inverses are remade
 * at such a step when it is the first of its interval of inverseEvery steps (or k ≤ inverseEvery).
 */
export function kfac(problem: Problem, lr: number, startLambda: number, steps: number, seed = 0,
  { inverseEvery = 20, curvatureEvery = 1, dampingSplit = 'even' as DampingSplit } = {}): Trajectory {
  let W = problem.W.map(clone), lambda = startLambda, startDamping = startLambda;
  const m = problem.batch, count = Math.floor(problem.X.rows / m), next = batches(problem.X, m);
  const net = netOf(problem), tau = problem.tau ?? 1e-5, adaptive = problem.adaptiveDamping;
  const judged: JudgedStep[] = [];
  let invertNext = false;  // λ changed: fresh inverses at the next step (§19.3)
  let pending: PendingJudgement | undefined;
  const judge = judgeOnNextBatch(net, tau, adaptive, judged, () => lambda);
  let draws = 0;
  const sampledG = (p: Pass, Wc: Mat[]) => {
    const z = p.h[Wc.length - 1];
    const callSeed = mix((BigInt(seed) + BigInt(draws++)) & MASK);
    const gL = mat(z.rows, z.cols);
    z.a.forEach((v, i) => {
      if (net.loss === 'sigmoidCrossEntropy') {
        gL.a[i] = sigmoid(v) - (uniformAt(callSeed, 2 * i) < sigmoid(v) ? 1 : 0);
      } else {
        const t = v + Math.sqrt(-2 * Math.log1p(-uniformAt(callSeed, 2 * i))) * Math.cos(2 * Math.PI * uniformAt(callSeed, 2 * i + 1));
        gL.a[i] = v - t;
      }
    });
    return backward(Wc, p.h, p.abar, gL, false, net).g;
  };
  let A = W.map((w) => mat(w.cols, w.cols)), G = W.map((w) => mat(w.rows, w.rows));
  for (let j = 1; j <= count; j++) {
    const B = next(j - 1);
    const p = pass(W, B, B, false, net);
    const g = sampledG(p, W);
    A = A.map((Al, l) => blend(Al, gram(p.abar[l], m), (j - 1) / j, 1 / j));
    G = G.map((Gl, l) => blend(Gl, gram(g[l]), (j - 1) / j, 1 / j));
  }
  let M = W.map((w) => mat(w.rows, w.cols));
  let Ainv: Mat[] = [], Ginv: Mat[] = [], Adamped: Mat[] = [], Gdamped: Mat[] = [];
  const losses: number[] = [];
  for (let k = 0; k < steps; k++) {
    const B = next(count + k);
    const p = pass(W, B, B, true, net);
    losses.push(p.loss);
    const grads = clipGradient(p.grads, problem.clipNorm).grads;
    if (k === 0 && adaptive?.scaledStart) lambda = startDamping = scaledStart(lrAt(problem, lr, 0), grads, W, tau, lambda, adaptive);
    const sq = Math.sqrt(lambda);
    M = momentum(M, grads, W, tau);
    const curvature = k % curvatureEvery === 0;
    if (curvature) {
      const g = sampledG(p, W);
      A = A.map((Al, l) => blend(Al, gram(p.abar[l], m), 0.9, 0.1));
      G = G.map((Gl, l) => blend(Gl, gram(g[l]), 0.9, 0.1));
    }
    // a multiple of inverseEvery in (k − r, k]: the first factor update of that interval
    const firstOfInterval = Math.floor(k / inverseEvery) !== Math.floor((k - curvatureEvery) / inverseEvery);
    if ((curvature && (k <= inverseEvery || firstOfInterval)) || invertNext) {
      const damped = A.map((Al, l) => kfacDamped(Al, G[l], sq, dampingSplit));
      Adamped = damped.map(([Ad]) => Ad);
      Gdamped = damped.map(([, Gd]) => Gd);
      Ainv = Adamped.map(inverse);
      Ginv = Gdamped.map(inverse);
    }
    invertNext = false;
    const Wnew = W.map((w, l) => {
      const delta = mul(mul(Ginv[l], M[l]), Ainv[l]);
      return { ...w, a: w.a.map((v, i) => v - lrAt(problem, lr, k) * delta.a[i]) };
    });
    const decided = pending && adaptive ? judge(pending, W, B, p.loss) : lambda;
    // the model of the damped factors last inverted, whose inverses made this step (§19.2)
    pending = adaptive && judges(adaptive, k)
      ? { step: k, W, delta: plus(Wnew, W, -1), left: Gdamped, right: Adamped }
      : undefined;
    invertNext = decided !== lambda;
    lambda = decided;
    W = stored(Wnew, problem);
  }
  return {
    batchLosses: losses, W, counts: { powell: 0, lm: 0, hgSkipped: 0, haSkipped: 0 }, judged, startDamping,
    rerun: (changes) => kfac({ ...problem, ...changes }, lr, startLambda, steps, seed, { inverseEvery, curvatureEvery, dampingSplit }),
  };
}

export interface AdamWSettings { lr: number; beta1: number; beta2: number; epsilon: number; weightDecay: number }

/**
 * AdamW (algorithm.md §15.1) with the step rules of §15.2-§15.3 from the problem: per element, θ ← θ(1 − α_k λ),
 * then Adam's bias-corrected step on the (clipped) data-loss gradient; batches in stored order from the first
 * (no warm start).
 */
export function adamw(problem: Problem, settings: AdamWSettings, steps: number): Trajectory {
  const { lr, beta1, beta2, epsilon, weightDecay } = settings;
  let W = problem.W.map(clone);
  const next = batches(problem.X, problem.batch), net = netOf(problem);
  const m = W.map((w) => new Float64Array(w.a.length)), v = W.map((w) => new Float64Array(w.a.length));
  const losses: number[] = [];
  let clippedSteps = 0;
  for (let k = 0; k < steps; k++) {
    const B = next(k);
    const p = pass(W, B, B, true, net);
    losses.push(p.loss);
    const { grads, clipped } = clipGradient(p.grads, problem.clipNorm);
    clippedSteps += +clipped;
    const alpha = lrAt(problem, lr, k), t = k + 1;
    W = stored(W.map((w, l) => ({
      ...w,
      a: w.a.map((theta, i) => {
        const g = grads[l].a[i];
        m[l][i] = beta1 * m[l][i] + (1 - beta1) * g;
        v[l][i] = beta2 * v[l][i] + (1 - beta2) * g * g;
        const step = m[l][i] / (1 - beta1 ** t) / (Math.sqrt(v[l][i] / (1 - beta2 ** t)) + epsilon);
        return theta * (1 - alpha * weightDecay) - alpha * step;
      }),
    })), problem);
  }
  return { batchLosses: losses, W, counts: { powell: 0, lm: 0, hgSkipped: 0, haSkipped: 0 }, clippedSteps, rerun: (changes) => adamw({ ...problem, ...changes }, settings, steps) };
}

/** Linear warm-up, then cosine decay (algorithm.md §15.3): the factor of lr at 0-based step k. */
export function warmupCosine(warmupSteps: number, totalSteps: number, minFactor: number): (k: number) => number {
  return (k) => {
    if (k < warmupSteps) return (k + 1) / warmupSteps;
    const decaySteps = totalSteps - warmupSteps, done = Math.min(k - warmupSteps + 1, decaySteps);
    return minFactor + ((1 - minFactor) * (1 + Math.cos((Math.PI * done) / decaySteps))) / 2;
  };
}

export const matrix = mat;

// ---- Shampoo and SOAP (algorithm.md §17) -------------------------------------------------------------------

/** Eigenvalues (ascending) and eigenvectors (the columns of Q) of a symmetric matrix, by cyclic Jacobi sweeps. */
export function symmetricEigen(S: Mat): { values: number[]; Q: Mat } {
  const n = S.rows, A = clone(S), V = eye(n);
  const at = (M: Mat, i: number, j: number) => M.a[i * n + j];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (i !== j) off += at(A, i, j) ** 2;
    if (off < 1e-30 * A.a.reduce((s, v) => s + v * v, 0) || off === 0) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        if (at(A, p, q) === 0) continue;
        // J = rotation by φ in the (p, q) plane with tan 2φ = 2a_pq / (a_pp − a_qq); A ← Jᵀ A J zeroes a_pq.
        const phi = 0.5 * Math.atan2(2 * at(A, p, q), at(A, p, p) - at(A, q, q));
        const c = Math.cos(phi), s = Math.sin(phi);
        for (const M of [A, V])
          for (let k = 0; k < n; k++) {
            const mp = M.a[k * n + p], mq = M.a[k * n + q];
            M.a[k * n + p] = c * mp + s * mq;
            M.a[k * n + q] = -s * mp + c * mq;
          }
        for (let k = 0; k < n; k++) {
          const ap = A.a[p * n + k], aq = A.a[q * n + k];
          A.a[p * n + k] = c * ap + s * aq;
          A.a[q * n + k] = -s * ap + c * aq;
        }
      }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => at(A, x, x) - at(A, y, y));
  const Q = mat(n, n);
  order.forEach((o, i) => { for (let k = 0; k < n; k++) Q.a[k * n + i] = V.a[k * n + o]; });
  return { values: order.map((o) => at(A, o, o)), Q };
}

export interface KroneckerEigenSettings {
  lr: number; damping: number; beta1?: number; beta2: number; epsilon?: number;
  precondEvery: number; start: number; maxPrecondDim?: number;
}

/** The statistics L, R of every layer (null for a side longer than maxPrecondDim) and their EMA update. */
function kroneckerStatistics(W: Mat[], maxDim: number) {
  const side = (n: number) => (n <= maxDim ? mat(n, n) : null);
  const stats = W.map((w) => ({ L: side(w.rows), R: side(w.cols) }));
  const accumulate = (G: Mat[], beta: number) => stats.forEach((s, l) => {
    if (s.L) s.L = blend(s.L, mul(G[l], G[l], false, true), beta, 1 - beta);
    if (s.R) s.R = blend(s.R, mul(G[l], G[l], true, false), beta, 1 - beta);
  });
  return { stats, accumulate };
}

/** left · X · right, a null side being the identity. */
const sandwich = (left: Mat | null, X: Mat, right: Mat | null) => {
  const Y = left ? mul(left, X) : X;
  return right ? mul(Y, right) : Y;
};
const frobenius = (X: Mat) => Math.sqrt(X.a.reduce((s, v) => s + v * v, 0));
const refreshDue = (o: KroneckerEigenSettings, k: number) => k >= o.start && (k - o.start) % o.precondEvery === 0;

/**
 * Shampoo, algorithm.md §17.2: Adam (PyTorch's form, on G = ∇ + τθ) until `start`, then per layer
 * L^{-1/4} m R^{-1/4} with Adam's step norm; roots Q diag((λ + ε λ_max)^{-1/4}) Qᵀ refreshed on schedule.
 */
export function shampoo(problem: Problem, o: KroneckerEigenSettings, steps: number): Trajectory {
  let W = problem.W.map(clone);
  const next = batches(problem.X, problem.batch), net = netOf(problem), tau = problem.tau ?? 1e-5;
  const b1 = o.beta1 ?? 0.9, b2 = o.beta2, eps = o.epsilon ?? 1e-8;
  const { stats, accumulate } = kroneckerStatistics(W, o.maxPrecondDim ?? 1024);
  let m = W.map((w) => mat(w.rows, w.cols)), v = W.map((w) => mat(w.rows, w.cols));
  let roots: Array<{ L: Mat | null; R: Mat | null }> = [];
  const root = (S: Mat | null) => {
    if (!S) return null;
    const { values, Q } = symmetricEigen(S);
    const shift = o.damping * Math.max(values[values.length - 1], 0);
    const scaled = clone(Q);
    values.forEach((lam, i) => {
      const s = shift > 0 ? (Math.max(lam, 0) + shift) ** -0.25 : 1;
      for (let k = 0; k < Q.rows; k++) scaled.a[k * Q.rows + i] *= s;
    });
    return mul(scaled, Q, false, true);
  };
  const losses: number[] = [];
  for (let k = 0; k < steps; k++) {
    const p = pass(W, next(k), next(k), true, net);
    losses.push(p.loss);
    const G = p.grads.map((g, l) => blend(g, W[l], 1, tau));
    m = m.map((ml, l) => blend(ml, G[l], b1, 1 - b1));
    v = v.map((vl, l) => ({ ...vl, a: vl.a.map((x, i) => b2 * x + (1 - b2) * G[l].a[i] ** 2) }));
    const bc1 = 1 - b1 ** (k + 1), bc2 = 1 - b2 ** (k + 1);
    const adam = m.map((ml, l) => ({ ...ml, a: ml.a.map((x, i) => x / bc1 / (Math.sqrt(v[l].a[i] / bc2) + eps)) }));
    accumulate(G, b2);
    if (refreshDue(o, k)) roots = stats.map((s) => ({ L: root(s.L), R: root(s.R) }));
    const step = k < o.start ? adam : m.map((ml, l) => {
      const S = sandwich(roots[l].L, ml, roots[l].R), norm = frobenius(S);
      return norm > 0 ? blend(S, S, frobenius(adam[l]) / norm, 0) : adam[l];
    });
    W = stored(W.map((w, l) => blend(w, step[l], 1, -o.lr)), problem);
  }
  return { batchLosses: losses, W, counts: { powell: 0, lm: 0, hgSkipped: 0, haSkipped: 0 }, rerun: (changes) => shampoo({ ...problem, ...changes }, o, steps) };
}

/**
 * SOAP, algorithm.md §17.3, in the paper's form: the first moment kept in the parameters' basis and projected
 * onto the current eigenbasis at every step (the engine keeps it in the basis and rotates it when the basis
 * changes: the same numbers), the second moment in the basis' coordinates, bases Q_L, Q_R (identity until the
 * first refresh) refreshed on schedule after the statistics took the step's gradient.
 */
export function soap(problem: Problem, o: KroneckerEigenSettings, steps: number): Trajectory {
  let W = problem.W.map(clone);
  const next = batches(problem.X, problem.batch), net = netOf(problem), tau = problem.tau ?? 1e-5;
  const b1 = o.beta1 ?? 0.9, b2 = o.beta2;
  const { stats, accumulate } = kroneckerStatistics(W, o.maxPrecondDim ?? 1024);
  let m = W.map((w) => mat(w.rows, w.cols)), v = W.map((w) => mat(w.rows, w.cols));
  let bases = stats.map((s) => ({ L: s.L && eye(s.L.rows), R: s.R && eye(s.R.rows) }));
  const losses: number[] = [];
  for (let k = 0; k < steps; k++) {
    const p = pass(W, next(k), next(k), true, net);
    losses.push(p.loss);
    const G = p.grads.map((g, l) => blend(g, W[l], 1, tau));
    accumulate(G, b2);
    if (refreshDue(o, k)) bases = stats.map((s) => ({ L: s.L && symmetricEigen(s.L).Q, R: s.R && symmetricEigen(s.R).Q }));
    m = m.map((ml, l) => blend(ml, G[l], b1, 1 - b1));
    const bc1 = 1 - b1 ** (k + 1), bc2 = 1 - b2 ** (k + 1);
    const step = W.map((_, l) => {
      const { L: QL, R: QR } = bases[l];
      const toBasis = (X: Mat) => sandwich(QL && transpose(QL), X, QR);
      const Gb = toBasis(G[l]), Mb = toBasis(m[l]);
      v[l] = { ...v[l], a: v[l].a.map((x, i) => b2 * x + (1 - b2) * Gb.a[i] ** 2) };
      const N = { ...Mb, a: Mb.a.map((x, i) => x / bc1 / (Math.sqrt(v[l].a[i] / bc2) + o.damping)) };
      return sandwich(QL, N, QR && transpose(QR));
    });
    W = stored(W.map((w, l) => blend(w, step[l], 1, -o.lr)), problem);
  }
  return { batchLosses: losses, W, counts: { powell: 0, lm: 0, hgSkipped: 0, haSkipped: 0 }, rerun: (changes) => soap({ ...problem, ...changes }, o, steps) };
}

function transpose(A: Mat): Mat {
  const T = mat(A.cols, A.rows);
  for (let i = 0; i < A.rows; i++) for (let j = 0; j < A.cols; j++) T.a[j * A.rows + i] = A.a[i * A.cols + j];
  return T;
}

// The pieces that the token models' forward pass and methods (transformer-reference.ts, token-methods.ts) use too.
export { addDiag, blend, clone, colMean, dot, eye, gram, lrAt, matvec, mix, momentum, mul, stored, uniformAt };
