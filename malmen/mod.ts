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
export { HyperNetwork } from "./algorithm/hypernet.ts";
export type { HyperNetworkConfig, HyperOutput } from "./algorithm/hypernet.ts";
export { RunningNormalizer } from "./algorithm/normalizer.ts";
export type { NormalizerOptions, NormalizerState } from "./algorithm/normalizer.ts";
export * from "./algorithm/key_prior.ts";
export * from "./algorithm/capture.ts";
export * from "./algorithm/meta_loss.ts";
export * from "./algorithm/scheduler.ts";
export * from "./eval/requests.ts";
export * from "./eval/metrics.ts";
export * from "./editors/journal.ts";
export * from "./eval/report.ts";
export * from "./workflows.ts";
export * from "./editors/train_editor.ts";
export * from "./lm/corpus.ts";
export * from "./lm/evaluate.ts";
export * from "./lm/train.ts";
export * from "./lm/load.ts";
export * from "./lm/run_dir.ts";
export * from "./lm/schedule.ts";
