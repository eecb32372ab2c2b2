/**
 * The MEMIT baseline (Meng, Sen Sharma, Andonian, Belinkov, Bau, ICLR 2023, "Mass-Editing
 * Memory in a Transformer"): no meta-training; per fact a target value for the residual stream
 * after the last edited block is optimised at the subject's last token
 * (`algorithm/memit_targets.ts`), then the residuals are spread over the edited layers by a
 * least-squares solve that protects the keys of the LM's own training texts
 * (`algorithm/memit_spread.ts`). All facts are edited at once.
 * @module
 */
import { writeJsonAtomic } from "../../engine/io/atomic.ts";
import { platform } from "../../engine/platform/mod.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { fmtShape } from "../../engine/shape.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { readLayerMatrices, writeLayerMatrices } from "../algorithm/key_prior.ts";
import {
  type MemitFact,
  type MemitTargetOptions,
  optimizeTargets,
} from "../algorithm/memit_targets.ts";
import { spreadTargets } from "../algorithm/memit_spread.ts";
import { clearShifts } from "../algorithm/shifts.ts";
import type { EditRequest } from "../eval/requests.ts";
import { checkMadeFor, type Hash, identityOf, type ProvenanceOptions } from "../lm/identity.ts";
import { defaultEditorConfig, type Editor, type EditorConfig } from "./editor.ts";

/**
 * Where a fact is read and written: `subject`, the subject's last token (the paper's choice);
 * `prompt`, the prompt's last token (the position that predicts the answer's first token, where
 * MALMEN's first key sits). A small LM need not store a fact at its subject: the setting is
 * chosen on the validation split.
 */
export type MemitPosition = MemitSettings["position"];

/**
 * MEMIT's settings: how the target values are optimised (steps, lr, klWeight, decay, clamp,
 * batch; see `MemitTargetOptions`), where, and the weight of the key covariance in the spread.
 */
export interface MemitSettings extends Omit<MemitTargetOptions, "layer"> {
  /** Edited blocks, ascending; the targets live after the last one. */
  layers: number[];
  /** The edited token: `"subject"` or `"prompt"` (`MemitPosition`). */
  position: "subject" | "prompt";
  /** λ: weight of the key covariance E[kkᵀ] in the solve. */
  lambda: number;
}

/**
 * MEMIT's settings for a model of `nLayer` blocks, chosen on the default world's validation
 * split (`bench/experiments/memit_select.ts`; BENCHMARKS.md, "MEMIT"): the last half of the
 * blocks (those MALMEN edits), read and written at the prompt's last token, λ = 30, 50 Adam
 * steps at lr 0.5. There the subject's last token hardly edits (val efficacy ≤ 21% against 97%):
 * the tiny LM does not hold a fact at its subject, and facts of one subject share a key. With
 * the edited token at the prompt's end, the KL term would hold the answer itself in place, so
 * its weight is 0; the norm clamp and the decay are the paper's GPT-J values (the clamp did not
 * bind on val).
 * @param nLayer Blocks of the model.
 */
export function defaultMemitSettings(nLayer: number): MemitSettings {
  return {
    layers: defaultEditorConfig(nLayer).layers,
    position: "prompt",
    lambda: 30,
    steps: 50,
    lr: 0.5,
    klWeight: 0,
    decay: 0.5,
    clamp: 0.75,
    batch: 128,
  };
}

/**
 * The paper's form of MEMIT for a model of `nLayer` blocks, as overrides of
 * {@linkcode defaultMemitSettings}: the subject's last token, one block in the lower middle (the
 * paper edits GPT-J's blocks 3–8 of 28; the tiny LM has no room for a range), and the paper's KL
 * weight 0.0625 on the distribution after the subject.
 * @param nLayer Blocks of the model.
 */
export function paperMemitSettings(nLayer: number): Partial<MemitSettings> {
  return { position: "subject", layers: [Math.floor((nLayer - 1) / 2)], klWeight: 0.0625 };
}

/**
 * Throws a `RangeError` naming the first bad setting.
 * @param s Settings.
 * @param nLayer Blocks of the model they are for.
 */
export function checkMemitSettings(s: MemitSettings, nLayer: number): void {
  const fail = (field: string, want: string, got: unknown): never => {
    throw new RangeError(`MEMIT setting "${field}" must be ${want}, got ${JSON.stringify(got)}`);
  };
  if (!Array.isArray(s.layers) || s.layers.length === 0) {
    fail("layers", "a non-empty list of blocks", s.layers);
  }
  s.layers.forEach((l, i) => {
    if (!Number.isInteger(l) || l < 0 || l >= nLayer) {
      fail("layers", `blocks of the model (0 to ${nLayer - 1})`, s.layers);
    }
    if (i > 0 && l <= s.layers[i - 1]) fail("layers", "strictly ascending", s.layers);
  });
  if (s.position !== "subject" && s.position !== "prompt") {
    fail("position", `"subject" or "prompt"`, s.position);
  }
  const positive = (field: "lambda" | "lr" | "clamp") => {
    if (!(Number.isFinite(s[field]) && s[field] > 0)) fail(field, "a finite number > 0", s[field]);
  };
  const nonNegative = (field: "klWeight" | "decay") => {
    if (!(Number.isFinite(s[field]) && s[field] >= 0)) fail(field, "a finite number ≥ 0", s[field]);
  };
  const count = (field: "steps" | "batch") => {
    if (!(Number.isInteger(s[field]) && s[field] >= 1)) fail(field, "an integer ≥ 1", s[field]);
  };
  positive("lambda");
  positive("lr");
  positive("clamp");
  nonNegative("klWeight");
  nonNegative("decay");
  count("steps");
  count("batch");
}

/** Settings file of a saved MEMIT editor. */
export const MEMIT_FILE = "memit.json";
/** Key covariances of a saved MEMIT editor. */
export const COVARIANCE_FILE = "key_covariance.safetensors";

/** Edits with MEMIT. */
export class MemitEditor implements Editor {
  /** Always `memit`. */
  readonly name = "memit" as const;
  /** Shared editor settings (its `layers` are MEMIT's). */
  readonly config: EditorConfig;
  /** MEMIT's own settings. */
  readonly settings: MemitSettings;
  /**
   * Per edited layer, the relative residual ‖KΔW − R‖ / ‖R‖ of the last edit's solve (how much
   * of each layer's share one ΔW delivered), else null.
   */
  lastFit: number[] | null = null;
  /** Identity of the LM its key covariances were computed on (null when unknown). */
  readonly lm: Hash | null;
  readonly #covariances: Map<number, Tensor>;

  /**
   * Creates the editor; it takes over the covariances (and disposes them).
   * @param model The LM it edits (for its shape).
   * @param settings Checked against the model.
   * @param covariances Layer → E[kkᵀ] `[d_in, d_in]`, at least for every edited layer.
   */
  constructor(model: GPT, settings: MemitSettings, covariances: Map<number, Tensor>) {
    checkMemitSettings(settings, model.config.nLayer);
    const d = model.config.dInner;
    for (const l of settings.layers) {
      const c = covariances.get(l);
      if (c === undefined) throw new RangeError(`MEMIT: no key covariance for layer ${l}`);
      if (c.rank !== 2 || c.shape[0] !== d || c.shape[1] !== d) {
        throw new RangeError(
          `MEMIT: the key covariance of layer ${l} must be "[${d},${d}]", got "${
            fmtShape(c.shape)
          }"`,
        );
      }
    }
    this.settings = settings;
    this.config = {
      ...defaultEditorConfig(model.config.nLayer),
      layers: [...settings.layers],
      lmBatch: settings.batch,
    };
    this.#covariances = covariances;
    this.lm = identityOf(model);
  }

  /**
   * Shifts that edit all requests at once.
   * @param model The frozen LM (left without shifts).
   * @returns Layer → ΔW.
   */
  async computeShifts(model: GPT, requests: readonly EditRequest[]): Promise<Map<number, Tensor>> {
    if (requests.length === 0) throw new RangeError("MEMIT needs at least one request");
    const s = this.settings;
    const facts: MemitFact[] = requests.map((r, i) => {
      if (s.position === "prompt") return { pair: r.edit, at: r.edit.prompt.length - 1 };
      if (r.subjectLast === undefined) {
        throw new RangeError(
          `Request ${i} (case ${r.record.case_id}): its subject "${r.record.subject}" does not occur in its prompt, and MEMIT edits at the subject's last token (position "subject")`,
        );
      }
      return { pair: r.edit, at: r.subjectLast };
    });
    clearShifts(model);
    const targets = await optimizeTargets(model, facts, { ...s, layer: s.layers.at(-1)! });
    try {
      const spread = await spreadTargets(model, facts, targets, this.#covariances, s);
      this.lastFit = spread.residual;
      return spread.shifts;
    } finally {
      targets.dispose();
      clearShifts(model);
    }
  }

  /**
   * Saves the settings, the LM's identity and the covariances of the edited layers (atomic
   * writes).
   * @param dir Destination folder.
   * @param extra More fields for `memit.json` (e.g. how the settings were chosen).
   */
  async save(dir: string, extra: Record<string, unknown> = {}): Promise<void> {
    await platform().mkdir(dir);
    const edited = new Map(this.settings.layers.map((l) => [l, this.#covariances.get(l)!]));
    await writeLayerMatrices(`${dir}/${COVARIANCE_FILE}`, edited);
    await writeJsonAtomic(`${dir}/${MEMIT_FILE}`, {
      ...extra,
      editor: "memit",
      lm: this.lm,
      settings: this.settings,
    });
  }

  /**
   * Loads an editor saved by {@linkcode MemitEditor.save}.
   * @param dir Its folder.
   * @param model The LM it edits (the one its covariances were computed on, unless `force`).
   * @param options `force` to use it with another LM.
   * @throws {ProvenanceError} When it was set up for another LM.
   */
  static async load(
    dir: string,
    model: GPT,
    options: ProvenanceOptions = {},
  ): Promise<MemitEditor> {
    const path = `${dir}/${MEMIT_FILE}`;
    let meta: { editor?: string; settings?: MemitSettings; lm?: Hash | null };
    try {
      meta = JSON.parse(await platform().readTextFile(path));
    } catch (e) {
      throw new Error(`Cannot read the MEMIT editor "${path}": ${(e as Error).message}`);
    }
    if (meta.editor !== "memit" || meta.settings === undefined) {
      throw new TypeError(`${path}: not a MEMIT editor (fields "editor" and "settings")`);
    }
    checkMadeFor(`The MEMIT editor in "${dir}"`, meta.lm, model, options);
    const layers = meta.settings.layers;
    checkMemitSettings(meta.settings, model.config.nLayer);
    const covs = await readLayerMatrices(
      `${dir}/${COVARIANCE_FILE}`,
      layers,
      model.backend,
      `${dir}: MEMIT needs its key covariances`,
    );
    return new MemitEditor(model, meta.settings, new Map(layers.map((l, i) => [l, covs[i]])));
  }

  /** Releases the covariances. */
  dispose(): void {
    for (const c of this.#covariances.values()) c.dispose();
    this.#covariances.clear();
  }
}
