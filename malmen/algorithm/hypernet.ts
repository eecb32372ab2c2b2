/**
 * The MALMEN hyper-network: one per distinct (d_in, d_out) shape of
 * edited layers, shared by the modules of that shape (module index k). It maps normalised
 * z = [u; δ] through residual low-rank blocks `h ← h + s_k ⊙ ReLU(h·A·B + b) + t_k` to pseudo
 * keys ũ and pseudo value-gradients δ̃, then to value differences d_j = −η_k (u_j·ũ_j) δ̃_j.
 * Everything is autograd-recorded (phase E and the plain-autograd reference) unless run under
 * `noGrad` (phase B: {@linkcode HyperNetwork.predictValueDiffs}).
 *
 * Parameters (names as in `parameters()`): `blocks.<i>.A` [D, r] ~ N(0, 1) unscaled,
 * `blocks.<i>.B` [r, D] = 0, `blocks.<i>.bias` [D] = 0, `blocks.<i>.scale` [K, D] = 1,
 * `blocks.<i>.shift` [K, D] = 0, `eta` [K] = etaInit, `lamHat` [K] = 0, with r = min(rank, D)
 * and K modules. B = 0 and t = 0 make the network the identity on the normalised input at init.
 * The running statistics live in {@linkcode HyperNetwork.normalizer} (buffers, not parameters).
 * MALMEN trains with Adam without weight decay: give these parameters weight decay 0.
 * @module
 */
import { noGrad } from "../../engine/autograd.ts";
import type { Backend } from "../../engine/backend.ts";
import { getBackend } from "../../engine/backend.ts";
import { view } from "../../engine/ops/copy.ts";
import { zeros } from "../../engine/ops/creation.ts";
import { addInto, mul } from "../../engine/ops/elementwise.ts";
import { matmul } from "../../engine/ops/matmul.ts";
import { reshape, slice } from "../../engine/ops/view.ts";
import { keep, tidy } from "../../engine/scope.ts";
import { fmtShape } from "../../engine/shape.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { constantInit, normalInit } from "../../engine/nn/init.ts";
import { Module, ModuleList } from "../../engine/nn/module.ts";
import { residualTail, valueDiff } from "./hypernet_ops.ts";
import { RunningNormalizer } from "./normalizer.ts";

/** Shape and initialisation of a {@linkcode HyperNetwork}. */
export interface HyperNetworkConfig {
  /** Key dimension d_in of the edited layers. */
  dIn: number;
  /** Value dimension d_out of the edited layers. */
  dOut: number;
  /** Number of edited modules sharing this network (size of the per-module tables). */
  nModules: number;
  /** Low-rank width; the effective rank is min(rank, d_in + d_out) (default 1920, the paper's). */
  rank?: number;
  /** Residual blocks (default 2). */
  nBlocks?: number;
  /**
   * Initial η_k (default 1e-6, the paper's). The edit's only step size: tiny models with small
   * keys may need a larger start (e.g. 1e-3) to produce a visible edit early in meta-training.
   */
  etaInit?: number;
  /** Initial λ̂_k (default 0, so λ = 1). */
  lamHatInit?: number;
  /** Seed of the N(0, 1) draws of A (default 0). */
  seed?: number;
  /** Backend of the parameters and statistics (default: the current backend). */
  backend?: Backend;
}

/** What one forward pass produces. */
export interface HyperOutput {
  /** Full output h `[n, D]`. */
  h: Tensor;
  /** Pseudo keys ũ `[n, d_in]` (a view of h). */
  uTilde: Tensor;
  /** Pseudo value-gradients δ̃ `[n, d_out]` (a view of h). */
  deltaTilde: Tensor;
}

/** One residual low-rank block. */
class HyperBlock extends Module {
  constructor(d: number, r: number, k: number, backend: Backend) {
    super();
    const o = { backend };
    this.addParameter("A", [d, r], normalInit(1), o);
    this.addParameter("B", [r, d], constantInit(0), o);
    this.addParameter("bias", [d], constantInit(0), o);
    this.addParameter("scale", [k, d], constantInit(1), o);
    this.addParameter("shift", [k, d], constantInit(0), o);
  }

  /**
   * `h + s_k ⊙ ReLU(h·A·B + b) + t_k`.
   * @param h `[n, D]`.
   * @param k Module index.
   * @returns `[n, D]`.
   */
  forward(h: Tensor, k: number): Tensor {
    const d = h.shape[1];
    const q = matmul(matmul(h, this.param("A")), this.param("B"));
    const row = (t: Tensor): Tensor => reshape(slice(t, [k, 0], [k + 1, d]), [d]);
    return residualTail(
      h,
      q,
      this.param("bias"),
      row(this.param("scale")),
      row(this.param("shift")),
    );
  }
}

/** The hyper-network of one (d_in, d_out) shape. */
export class HyperNetwork extends Module {
  /** Key dimension. */
  readonly dIn: number;
  /** Value dimension. */
  readonly dOut: number;
  /** Number of modules sharing the network. */
  readonly nModules: number;
  /** Effective low-rank width r. */
  readonly rank: number;
  /** Running statistics of z = [u; δ] (update them in the caching pass; freeze after training). */
  readonly normalizer: RunningNormalizer;
  readonly #blocks: ModuleList<HyperBlock>;

  /**
   * Creates the network at its identity initialisation.
   * @param config Shape and initialisation.
   */
  constructor(config: HyperNetworkConfig) {
    super();
    const { dIn, dOut, nModules } = config;
    for (const [name, v] of [["dIn", dIn], ["dOut", dOut], ["nModules", nModules]] as const) {
      if (!(Number.isInteger(v) && v > 0)) {
        throw new RangeError(`HyperNetwork ${name} must be a positive integer, got ${v}`);
      }
    }
    const d = dIn + dOut;
    const nBlocks = config.nBlocks ?? 2;
    const rank = Math.min(config.rank ?? 1920, d);
    if (!(Number.isInteger(nBlocks) && nBlocks >= 0 && Number.isInteger(rank) && rank > 0)) {
      throw new RangeError(
        `HyperNetwork needs nBlocks >= 0 and rank >= 1, got ${nBlocks} and ${rank}`,
      );
    }
    const backend = config.backend ?? getBackend();
    this.dIn = dIn;
    this.dOut = dOut;
    this.nModules = nModules;
    this.rank = rank;
    this.#blocks = this.addModule(
      "blocks",
      new ModuleList(
        Array.from({ length: nBlocks }, () => new HyperBlock(d, rank, nModules, backend)),
      ),
    );
    this.addParameter("eta", [nModules], constantInit(config.etaInit ?? 1e-6), { backend });
    this.addParameter("lamHat", [nModules], constantInit(config.lamHatInit ?? 0), { backend });
    // Re-draw from the full names so every block's A gets its own stream.
    this.initialize(config.seed ?? 0);
    this.normalizer = new RunningNormalizer(dIn, dOut, { backend });
  }

  /** D = d_in + d_out. */
  get dim(): number {
    return this.dIn + this.dOut;
  }

  /** Number of residual blocks. */
  get nBlocks(): number {
    return this.#blocks.length;
  }

  /** The per-module learned step sizes η `[K]` (a parameter). */
  get eta(): Tensor {
    return this.param("eta");
  }

  /** The per-module log ridge coefficients λ̂ `[K]` (a parameter; λ = e^λ̂). */
  get lamHat(): Tensor {
    return this.param("lamHat");
  }

  #checkModule(k: number): void {
    if (!(Number.isInteger(k) && k >= 0 && k < this.nModules)) {
      throw new RangeError(`Module index ${k} is out of range for ${this.nModules} modules`);
    }
  }

  /**
   * One module's λ̂ as a `[1]` view without autograd (for the streaming solve).
   * @param k Module index.
   * @returns A view of the parameter (dispose it; the parameter stays).
   */
  lamHatAt(k: number): Tensor {
    this.#checkModule(k);
    const t = this.lamHat;
    return view(t, [1], [1], t.offset + k * t.strides[0]);
  }

  /**
   * Adds ∂L/∂λ̂_k (from the closed-form backward of the solve) into `lamHat.grad`.
   * @param k Module index.
   * @param grad `[1]` on the parameters' backend.
   */
  addLamHatGrad(k: number, grad: Tensor): void {
    this.#checkModule(k);
    if (grad.size !== 1) {
      throw new RangeError(
        `addLamHatGrad() needs a one-element gradient, got "${fmtShape(grad.shape)}"`,
      );
    }
    const p = this.lamHat;
    if (p.grad === null) p.grad = keep(zeros(p.shape, { backend: p.backend }));
    const slot = view(p.grad, [1], [1], p.grad.offset + k * p.grad.strides[0]);
    const src = view(grad, [1], [1], grad.offset);
    addInto(slot, src);
    slot.dispose();
    src.dispose();
  }

  /**
   * The hyper-network on a chunk of rows of module k: normalise (no gradient), then the blocks.
   * @param keys Keys u `[n, d_in]` (data).
   * @param grads Value-gradients δ `[n, d_out]` (data).
   * @param k Module index.
   * @returns h and its halves ũ, δ̃.
   */
  forward(keys: Tensor, grads: Tensor, k: number): HyperOutput {
    this.#checkModule(k);
    let h = this.normalizer.normalize(keys, grads);
    for (const block of this.#blocks) h = block.forward(h, k);
    const n = h.shape[0];
    return {
      h,
      uTilde: slice(h, [0, 0], [n, this.dIn]),
      deltaTilde: slice(h, [0, this.dIn], [n, this.dim]),
    };
  }

  /**
   * Value differences d_j = −η_k (u_j·ũ_j) δ̃_j (the pseudo key's projection on the key scales
   * the pseudo value-gradient), recorded for autograd.
   * @param keys Keys u `[n, d_in]`.
   * @param grads Value-gradients δ `[n, d_out]`.
   * @param k Module index.
   * @returns D_v `[n, d_out]`.
   */
  valueDiffs(keys: Tensor, grads: Tensor, k: number): Tensor {
    const { h } = this.forward(keys, grads, k);
    return valueDiff(keys, h, slice(this.eta, [k], [k + 1]));
  }

  /**
   * Phase E for one chunk: recomputes the value differences with a graph and back-propagates
   * the constant ∂L/∂D_v through them (the proxy loss ⟨∂L/∂D_v, d(θ)⟩, whose θ-gradient is the true one because ∂L/∂D_v is exact), accumulating
   * into the parameters' gradients (η_k included; λ̂_k is added by
   * {@linkcode HyperNetwork.addLamHatGrad}).
   * @param keys Keys u `[n, d_in]`.
   * @param grads Value-gradients δ `[n, d_out]`.
   * @param k Module index.
   * @param gradValues ∂L/∂D_v for these rows `[n, d_out]`.
   */
  backwardValueDiffs(keys: Tensor, grads: Tensor, k: number, gradValues: Tensor): void {
    tidy(() => this.valueDiffs(keys, grads, k).backward(gradValues));
  }

  /**
   * {@linkcode HyperNetwork.valueDiffs} without a graph, intermediates freed (phase B).
   * @param keys Keys u `[n, d_in]`.
   * @param grads Value-gradients δ `[n, d_out]`.
   * @param k Module index.
   * @returns D_v `[n, d_out]`.
   */
  predictValueDiffs(keys: Tensor, grads: Tensor, k: number): Tensor {
    return tidy(() => noGrad(() => this.valueDiffs(keys, grads, k)));
  }

  /**
   * The MEND-style sum shift of a chunk, −η_k ŨᵀΔ̃ (MEND sums per-token rank-one shifts), recorded for autograd: summed over
   * chunks it is ΔW_MEND; its phase-E backward is `mendShift(chunk).backward(G)`.
   * @param keys Keys u `[n, d_in]`.
   * @param grads Value-gradients δ `[n, d_out]`.
   * @param k Module index.
   * @returns `[d_in, d_out]`.
   */
  mendShift(keys: Tensor, grads: Tensor, k: number): Tensor {
    const { uTilde, deltaTilde } = this.forward(keys, grads, k);
    const eta = slice(this.eta, [k], [k + 1]);
    return mul(matmul(uTilde, deltaTilde, { transA: true }), mul(eta, -1));
  }

  /** Disposes the parameters and the statistics. */
  override dispose(): void {
    super.dispose();
    this.normalizer.dispose();
  }
}
