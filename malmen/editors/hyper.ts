/**
 * The hyper-network editors: MALMEN (least-squares aggregation) and the MEND-style sum
 * baseline, which share the network, the normaliser and the training loop and differ only in
 * their `Aggregation`. Editing streams (`algorithm/stream.ts`): each LM mini-batch is captured,
 * pushed through the hyper-network and folded into its layer's aggregator, then freed, so memory
 * does not grow with the number of facts.
 * @module
 */
import { alias } from "../../engine/ops/copy.ts";
import { addInto, mul } from "../../engine/ops/elementwise.ts";
import { noGrad } from "../../engine/autograd.ts";
import { keep } from "../../engine/scope.ts";
import type { Tensor } from "../../engine/tensor.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { type CheckpointLoadOptions, loadModule, saveModule } from "../../engine/nn/checkpoint.ts";
import { assertFinite } from "../../engine/nn/finite.ts";
import { writeJsonAtomic } from "../../engine/io/atomic.ts";
import { fmtShape } from "../../engine/shape.ts";
import type { Aggregation, Aggregator } from "../algorithm/aggregation.ts";
import { captureStream, KEY_POSITIONS } from "../algorithm/capture.ts";
import { HyperNetwork } from "../algorithm/hypernet.ts";
import { readLayerMatrices, scaledPrior, writeLayerMatrices } from "../algorithm/key_prior.ts";
import type { NormalizerState } from "../algorithm/normalizer.ts";
import { RIDGE } from "../algorithm/ridge_aggregation.ts";
import { clearShifts, setShift } from "../algorithm/shifts.ts";
import { aggregateRows } from "../algorithm/stream.ts";
import { SUM } from "../algorithm/sum_aggregation.ts";
import type { EditRequest } from "../eval/requests.ts";
import { checkMadeFor, type Hash, identityOf, type ProvenanceOptions } from "../lm/identity.ts";
import type { Editor, EditorConfig, EditorName } from "./editor.ts";
import { platform } from "../../engine/platform/mod.ts";

/** Options of {@linkcode HyperEditor.load}. */
export type EditorLoadOptions = ProvenanceOptions & Pick<CheckpointLoadOptions, "allowNonFinite">;

/** How each hyper-network editor folds its rows into one shift per layer. */
const AGGREGATIONS: Record<"malmen" | "mend", Aggregation> = { malmen: RIDGE, mend: SUM };

/** A MALMEN or MEND editor. */
export class HyperEditor implements Editor {
  /** `malmen` (least squares) or `mend` (sum). */
  readonly name: EditorName;
  /** Settings (edited layers, batch and chunk sizes, hyper-network shape). */
  readonly config: EditorConfig;
  /**
   * The hyper-network shared by the edited layers (they all have the GPT's FFN shape).
   * @internal Meta-training and the algorithm's tests reach into it.
   */
  readonly net: HyperNetwork;
  /**
   * Ridge least squares (MALMEN) or sum (MEND).
   * @internal
   */
  readonly aggregation: Aggregation;
  /**
   * Set to measure, on each least-squares edit, how well each layer's single ΔW delivers the
   * hyper-network's requested value changes (one extra readback per layer).
   */
  measureFit = false;
  /**
   * Per edited layer, the relative residual ‖KΔW − D‖ / ‖D‖ of the last edit (when
   * `measureFit` was set and the aggregation is least squares), else null.
   */
  lastFit: number[] | null = null;
  /**
   * Per edited layer (in `config.layers` order), the preservation matrix P = μ·E[uuᵀ] added to
   * each least-squares solve, or null for MALMEN's plain ridge (see `malmen/algorithm/key_prior.ts`).
   * Owned by the editor; set through {@linkcode HyperEditor.setKeyMoments}.
   */
  keyPrior: Tensor[] | null = null;
  /** The prior of edits, μ_edit·E[uuᵀ] (`config.editKeyPrior`), or null. */
  #editPrior: Tensor[] | null = null;
  #keyMoments: Tensor[] | null = null;
  /**
   * Edit passes (default `config.editPasses`, else 1 as in MALMEN). With more, each further
   * pass captures keys and value-gradients on the model with the shifts so far and adds its own
   * shift, so facts the first shift missed get a second request. An edit-time setting:
   * meta-training uses one pass.
   */
  editPasses: number;
  /**
   * The identity of the LM this editor is made for (recorded by `save`, checked by `load`), or
   * null when unknown.
   */
  readonly lm: Hash | null;

  /**
   * Creates an editor with a fresh (identity) hyper-network for a model.
   * @param name `malmen` or `mend`.
   * @param model The LM to be edited (for shapes and backend; its identity, when known, is
   *   recorded as the one the editor is made for).
   */
  constructor(name: "malmen" | "mend", model: GPT, config: EditorConfig) {
    const bad = settingProblem(config);
    if (bad !== null) throw new RangeError(`${bad.field} ${bad.problem}`);
    this.name = name;
    this.config = config;
    this.lm = identityOf(model);
    this.aggregation = AGGREGATIONS[name];
    this.editPasses = config.editPasses ?? 1;
    const d = model.config.dModel;
    this.net = new HyperNetwork({
      dIn: model.config.dInner,
      dOut: d,
      nModules: config.layers.length,
      rank: config.rank,
      nBlocks: config.nBlocks,
      etaInit: config.etaInit,
      seed: config.seed,
      backend: model.backend,
    });
  }

  /**
   * Whether this editor's solves use a key prior (`config.keyPrior` or `config.editKeyPrior`
   * > 0, least squares), so it needs the key statistics.
   */
  get usesKeyPrior(): boolean {
    return this.name === "malmen" && (this.#priorWeight(false) > 0 || this.#priorWeight(true) > 0);
  }

  #priorWeight(edit: boolean): number {
    const meta = this.config.keyPrior ?? 0;
    return edit ? this.config.editKeyPrior ?? meta : meta;
  }

  /** E[uuᵀ] per edited layer, when set. */
  get keyMoments(): readonly Tensor[] | null {
    return this.#keyMoments;
  }

  /**
   * Sets the key statistics E[uuᵀ] (one `[d_in, d_in]` matrix per edited layer; taken over,
   * the editor disposes them) and derives the prior μ·E[uuᵀ] from `config.keyPrior`.
   * @param moments From `keySecondMoments`.
   */
  setKeyMoments(moments: Tensor[]): void {
    if (moments.length !== this.config.layers.length) {
      throw new RangeError(
        `Key moments: expected ${this.config.layers.length} layers, got ${moments.length}`,
      );
    }
    for (const m of moments) {
      if (m.rank !== 2 || m.shape[0] !== this.net.dIn || m.shape[1] !== this.net.dIn) {
        throw new RangeError(
          `Key moments must be "[${this.net.dIn},${this.net.dIn}]", got "${fmtShape(m.shape)}"`,
        );
      }
    }
    this.#disposePrior();
    this.#keyMoments = moments;
    if (this.name !== "malmen") return;
    const [meta, edit] = [this.#priorWeight(false), this.#priorWeight(true)];
    if (meta > 0) this.keyPrior = scaledPrior(moments, meta);
    if (edit > 0) this.#editPrior = scaledPrior(moments, edit);
  }

  /**
   * Sets the weight μ of the edit prior (`config.editKeyPrior`) of an editor that holds key
   * statistics, e.g. to try edit-time settings on validation facts without reloading; the next
   * edit solves with μ·E[uuᵀ] (none at μ = 0). Meta-training's prior is unchanged.
   * @param mu The new weight, ≥ 0.
   * @throws {RangeError} For a negative or non-finite μ, or an editor without key statistics.
   */
  setEditKeyPrior(mu: number): void {
    if (!(Number.isFinite(mu) && mu >= 0)) {
      throw new RangeError(`The edit key prior must be a number ≥ 0, got "${mu}"`);
    }
    if (this.#keyMoments === null) {
      throw new RangeError(
        "This editor holds no key statistics (set config.keyPrior to train one)",
      );
    }
    for (const p of this.#editPrior ?? []) p.dispose();
    this.config.editKeyPrior = mu;
    this.#editPrior = this.name === "malmen" && mu > 0 ? scaledPrior(this.#keyMoments, mu) : null;
  }

  #disposePrior(): void {
    const all = [...(this.keyPrior ?? []), ...(this.#editPrior ?? []), ...(this.#keyMoments ?? [])];
    for (const p of all) p.dispose();
    this.keyPrior = null;
    this.#editPrior = null;
    this.#keyMoments = null;
  }

  /**
   * One fresh aggregator per edited layer, with the layer's key prior (the caller disposes them).
   * @internal Used by meta-training.
   * @param trackFit Keep what `Aggregator.fit` needs.
   * @returns The aggregators, in `config.layers` order.
   */
  aggregators(trackFit = false): Aggregator[] {
    return this.#aggregators(this.keyPrior, trackFit);
  }

  #aggregators(prior: Tensor[] | null, trackFit: boolean): Aggregator[] {
    return this.config.layers.map((_, k) =>
      this.aggregation.create(this.net, k, { prior: prior?.[k], trackFit })
    );
  }

  /**
   * Shifts for all requests at once, streaming mini-batch by mini-batch (normaliser frozen).
   * @param model The LM (frozen).
   * @returns Layer → ΔW.
   */
  async computeShifts(model: GPT, requests: readonly EditRequest[]): Promise<Map<number, Tensor>> {
    if (!(Number.isInteger(this.editPasses) && this.editPasses >= 1)) {
      throw new RangeError(`editPasses must be an integer ≥ 1, got "${this.editPasses}"`);
    }
    const scale = this.etaScaleFor(requests.length);
    clearShifts(model);
    let total: Map<number, Tensor> | null = null;
    try {
      for (let p = 0; p < this.editPasses; p++) {
        const step = await this.#pass(model, requests, scale);
        if (total === null) total = step;
        else {
          for (const [layer, t] of step) {
            addInto(total.get(layer)!, t);
            t.dispose();
          }
        }
        // The next pass captures keys and value-gradients on the model edited so far.
        if (p + 1 < this.editPasses) { for (const [layer, t] of total) setShift(model, layer, t); }
      }
    } finally {
      clearShifts(model);
    }
    return total!;
  }

  /**
   * The factor on each pass's shift for an edit of `m` facts at once: the scale of the first
   * `config.editEtaScaleBySize` pair whose size bound holds m, else `config.editEtaScale` (1).
   * @param m Facts edited at once.
   */
  etaScaleFor(m: number): number {
    const bySize = this.config.editEtaScaleBySize ?? [];
    return bySize.find(([maxFacts]) => m <= maxFacts)?.[1] ?? this.config.editEtaScale ?? 1;
  }

  // One edit computed on the model as it is (its current shifts included): phases A and B,
  // streamed so each LM mini-batch's rows are freed once aggregated.
  async #pass(
    model: GPT,
    requests: readonly EditRequest[],
    editEtaScale: number,
  ): Promise<Map<number, Tensor>> {
    const { layers, lmBatch, chunk, keyPositions } = this.config;
    const aggregators = this.#aggregators(this.#editPrior, this.measureFit);
    try {
      const edits = requests.map((r) => r.edit);
      const rows = captureStream(model, edits, layers, lmBatch, keyPositions);
      const shifts = await aggregateRows(rows, aggregators, chunk);
      const fits: (number | null)[] = [];
      if (this.measureFit) { for (const a of aggregators) fits.push(await a.fit()); }
      this.lastFit = fits.length > 0 && fits.every((f) => f !== null) ? fits as number[] : null;
      // The shift is linear in η (D = η·…, and both aggregations are linear in D).
      const scaled = (s: Tensor) =>
        editEtaScale === 1 ? alias(s) : noGrad(() => mul(s, editEtaScale));
      return new Map(layers.map((l, i) => [l, keep(scaled(shifts[i]))]));
    } finally {
      for (const a of aggregators) a.dispose();
    }
  }

  /**
   * Saves the hyper-network, its normaliser, the settings and the LM identity into a folder
   * (atomic writes). Non-finite weights or statistics are refused before anything is written.
   * @param dir Destination folder.
   */
  async save(dir: string): Promise<void> {
    await platform().mkdir(dir);
    const stats = await this.net.normalizer.saveState();
    assertFinite(
      [["normaliser mean", stats.mean], ["normaliser m2", stats.m2], ["normaliser std", stats.std]],
      `Refusing to write "${dir}/normalizer.json"`,
    );
    await saveModule(this.net, `${dir}/editor.safetensors`, { editor: this.name });
    await writeJsonAtomic(`${dir}/normalizer.json`, {
      count: stats.count,
      mean: Array.from(stats.mean),
      m2: Array.from(stats.m2),
      std: Array.from(stats.std),
    });
    if (this.#keyMoments !== null) {
      const moments = this.#keyMoments;
      await writeLayerMatrices(
        `${dir}/${KEY_MOMENTS_FILE}`,
        new Map(this.config.layers.map((l, i) => [l, moments[i]])),
      );
    }
    await writeJsonAtomic(`${dir}/editor.json`, {
      name: this.name,
      config: this.config,
      lm: this.lm,
    });
  }

  /**
   * Reads the LM identity an editor folder records (null for folders saved before editors
   * recorded it).
   * @param dir An editor (checkpoint) folder.
   */
  static async madeFor(dir: string): Promise<Hash | null> {
    const meta = await readJson(`${dir}/editor.json`) as { lm?: Hash | null };
    return meta.lm ?? null;
  }

  /**
   * Loads an editor saved by {@linkcode HyperEditor.save}; its normaliser is frozen.
   * @param dir Source folder.
   * @param model The LM it edits: it must be the one the editor was made for (when both
   *   identities are known), unless `options.force`.
   * @param options `force` to use it with another LM; `allowNonFinite` to load a diverged one.
   * @throws {ProvenanceError} When the editor was made for another LM.
   */
  static async load(
    dir: string,
    model: GPT,
    options: EditorLoadOptions = {},
  ): Promise<HyperEditor> {
    const meta = await readJson(`${dir}/editor.json`) as {
      name: string;
      config: EditorConfig;
      lm?: Hash | null;
    };
    if (meta.name !== "malmen" && meta.name !== "mend") {
      throw new TypeError(
        `${dir}/editor.json: field "name" must be "malmen" or "mend", got "${meta.name}"`,
      );
    }
    const bad = settingProblem(meta.config ?? {});
    if (bad !== null) {
      throw new TypeError(`${dir}/editor.json: field "config.${bad.field}" ${bad.problem}`);
    }
    checkMadeFor(`The editor in "${dir}"`, meta.lm, model, options);
    const editor = new HyperEditor(meta.name, model, meta.config);
    await loadModule(editor.net, `${dir}/editor.safetensors`, options);
    const stats = await readJson(`${dir}/normalizer.json`) as NormalizerState;
    if (!options.allowNonFinite) {
      assertFinite(
        [["mean", stats.mean], ["m2", stats.m2], ["std", stats.std]],
        `"${dir}/normalizer.json" holds non-finite values`,
      );
    }
    editor.net.normalizer.loadState(stats);
    editor.net.normalizer.frozen = true;
    if (editor.usesKeyPrior) await editor.loadKeyMoments(dir);
    return editor;
  }

  /**
   * Reads the key statistics saved with a checkpoint (`key_moments.safetensors`).
   * @param dir The checkpoint folder.
   */
  async loadKeyMoments(dir: string): Promise<void> {
    this.setKeyMoments(
      await readLayerMatrices(
        `${dir}/${KEY_MOMENTS_FILE}`,
        this.config.layers,
        this.net.eta.backend,
        `${dir}: config.keyPrior is set`,
      ),
    );
  }

  /** Releases the hyper-network. */
  dispose(): void {
    this.net.dispose();
    this.#disposePrior();
  }
}

/** File of the key statistics E[uuᵀ] in an editor folder (only with a key prior). */
export const KEY_MOMENTS_FILE = "key_moments.safetensors";

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await platform().readTextFile(path);
  } catch (e) {
    throw new Error(`Cannot read "${path}": ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new TypeError(`"${path}" is not valid JSON`);
  }
}

// The first edit setting this code cannot use, or null: key positions it does not know, or
// `[maxFacts, scale]` pairs that are not integer sizes ≥ 1 in increasing order with finite
// scales > 0. A saved editor's file is checked with it before anything is built.
function settingProblem(
  c: Partial<EditorConfig>,
): { field: string; problem: string } | null {
  if (c.keyPositions !== undefined && !KEY_POSITIONS.includes(c.keyPositions)) {
    const problem = `must be one of ${KEY_POSITIONS.join(", ")}, got "${c.keyPositions}"`;
    return { field: "keyPositions", problem };
  }
  const pairs = c.editEtaScaleBySize ?? [];
  for (let i = 0; i < pairs.length; i++) {
    const [maxFacts, scale] = Array.isArray(pairs[i]) ? pairs[i] : [NaN, NaN];
    const previous = i > 0 ? pairs[i - 1][0] : 0;
    if (!(Number.isInteger(maxFacts) && maxFacts > previous && scale > 0 && isFinite(scale))) {
      return {
        field: `editEtaScaleBySize[${i}]`,
        problem: `must be [maxFacts, scale] with an integer maxFacts above ${previous} and a ` +
          `finite scale > 0, got ${JSON.stringify(pairs[i])}`,
      };
    }
  }
  return null;
}
