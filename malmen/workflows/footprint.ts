/**
 * How much a run will write, estimated before it starts, so the CLIs can refuse an output folder
 * without room for it at once (not after an hour of training). Estimates err on the large side.
 * @module
 */
import { type GPTConfig, parameterCount } from "../../engine/models/gpt/config.ts";
import type { EditorConfig } from "../editors/editor.ts";

const F32 = 4;
// Configuration, tokenizer, state and pointer files beside the tensors.
const SLACK = 4 << 20;

/**
 * Parameters of the hyper-network an editor of this configuration builds for this model (the
 * shapes of `HyperNetwork`: per block A `[D, r]`, B `[r, D]`, bias `[D]`, scale and shift
 * `[k, D]`; plus η and λ̂ `[k]`; D = d_in + d_out, r = min(rank, D), k = edited layers).
 * @param model The LM's configuration.
 * @param editor The editor's configuration.
 */
export function hyperNetworkParameterCount(model: GPTConfig, editor: EditorConfig): number {
  const d = model.dInner + model.dModel;
  const r = Math.min(editor.rank, d);
  const k = editor.layers.length;
  return editor.nBlocks * (2 * d * r + d + 2 * k * d) + 2 * k;
}

/**
 * Bytes an LM training run writes: up to three checkpoints at once (two kept, one being
 * written), each the weights and AdamW's two moments.
 * @param config The model.
 */
export function lmRunBytes(config: GPTConfig): number {
  return 3 * 3 * parameterCount(config) * F32 + SLACK;
}

/**
 * Bytes a meta-training run writes: three latest checkpoints (weights and moments) and two best
 * ones (weights), plus the key statistics with a key prior.
 * @param model The LM's configuration.
 * @param editor The editor's configuration.
 */
export function editorRunBytes(model: GPTConfig, editor: EditorConfig): number {
  const p = hyperNetworkParameterCount(model, editor);
  const prior = Math.max(editor.keyPrior ?? 0, editor.editKeyPrior ?? 0);
  const moments = prior > 0 ? editor.layers.length * model.dInner ** 2 : 0;
  return (3 * 3 * p + 2 * p + 5 * moments) * F32 + SLACK;
}

/**
 * Bytes one edit writes: its journal entry (one `[d_in, d_out]` shift per edited layer), its
 * report (about a kilobyte per request), and the edited weights when asked for.
 * @param model The LM's configuration.
 * @param layers Edited layers.
 * @param m Requests.
 * @param writeModel Whether the edited weights are written too.
 */
export function editBytes(
  model: GPTConfig,
  layers: number,
  m: number,
  writeModel: boolean,
): number {
  const entry = layers * model.dInner * model.dModel * F32;
  const model_ = writeModel ? parameterCount(model) * F32 : 0;
  return entry + model_ + m * 1024 + SLACK;
}

/**
 * Bytes a MEMIT editor folder holds: one key covariance `[d_in, d_in]` per block (the candidate
 * settings may edit any of them) and its settings.
 * @param model The LM's configuration.
 */
export function memitBytes(model: GPTConfig): number {
  return model.nLayer * model.dInner ** 2 * F32 + SLACK;
}
