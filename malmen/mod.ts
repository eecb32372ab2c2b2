/**
 * MALMEN (Tan, Zhang, Fu, ICLR 2024): a meta-learned hyper-network turns per-token keys and
 * value-gradients at FFN output projections into target value changes, and a ridge least-squares
 * solve folds them into one weight shift per layer, so thousands of facts are edited at once.
 * Includes the memory-bounded two-phase scheduler, the MEND-sum and fine-tuning baselines,
 * metrics, the edit journal, and the synthetic knowledge world.
 *
 * @example Edit facts with a trained editor
 * ```ts ignore
 * import { HyperEditor, loadLmRun, toRequests, editAndScore } from "@malmen/engine/malmen";
 * const { model, tokenizer } = await loadLmRun("runs/lm", backend);
 * const editor = await HyperEditor.load("runs/malmen/checkpoints/step-0000100", model);
 * const outcome = await editAndScore(model, editor, toRequests(tokenizer, records));
 * ```
 * @module
 */
export * from "./data/mod.ts";
export * from "./editors/editor.ts";
export { HyperEditor, KEY_MOMENTS_FILE } from "./editors/hyper.ts";
export { FtEditor } from "./editors/ft.ts";
export { HyperNetwork } from "./hypernet.ts";
export type { HyperNetworkConfig, HyperOutput } from "./hypernet.ts";
export { RunningNormalizer } from "./normalizer.ts";
export type { NormalizerOptions, NormalizerState } from "./normalizer.ts";
export * from "./solve.ts";
export * from "./key_prior.ts";
export * from "./capture.ts";
export * from "./predict.ts";
export * from "./meta_loss.ts";
export * from "./scheduler.ts";
export * from "./requests.ts";
export * from "./metrics.ts";
export * from "./journal.ts";
export * from "./report.ts";
export * from "./pipeline.ts";
export * from "./train_editor.ts";
export * from "./lm/corpus.ts";
export * from "./lm/evaluate.ts";
export * from "./lm/train.ts";
export * from "./lm/load.ts";
export * from "./lm/run_dir.ts";
export * from "./lm/schedule.ts";
