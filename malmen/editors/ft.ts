/**
 * The fine-tuning baseline: the same layers' shifts are trained directly with Adam on the edit
 * tuples (the cross-entropy of the new targets), all facts at once.
 * @module
 */
import { sync } from "../../engine/backend.ts";
import { zeros } from "../../engine/ops/creation.ts";
import { clone } from "../../engine/ops/copy.ts";
import { keep, tidy } from "../../engine/scope.ts";
import type { Tensor } from "../../engine/tensor.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { lmLoss } from "../../engine/models/gpt/model.ts";
import { answerLogits } from "../algorithm/meta_loss.ts";
import { disposeBatch, editBatch } from "../../engine/models/gpt/batch.ts";
import { ParamArena } from "../../engine/nn/arena.ts";
import { AdamW } from "../../engine/nn/adamw.ts";
import { batches, type EditRequest } from "../eval/requests.ts";
import { clearShifts, setShift } from "../algorithm/shifts.ts";
import type { Editor, EditorConfig } from "./editor.ts";

/** Fine-tunes the edited layers' shifts. */
export class FtEditor implements Editor {
  /** Always `ft`. */
  readonly name = "ft" as const;
  /** Settings (`ftEpochs`, `ftLr`, `layers`, `lmBatch`). */
  readonly config: EditorConfig;

  /**
   * Creates the baseline.
   */
  constructor(config: EditorConfig) {
    this.config = config;
  }

  /**
   * Trains one shift per layer on all edit tuples.
   * @param model The LM (frozen).
   * @returns Layer → ΔW.
   */
  async computeShifts(model: GPT, requests: readonly EditRequest[]): Promise<Map<number, Tensor>> {
    const { layers, lmBatch, ftEpochs, ftLr } = this.config;
    const d = model.config.dModel;
    const init = new Map<string, Tensor>();
    for (const l of layers) {
      const t = zeros([model.config.dInner, d], { backend: model.backend });
      t.requiresGrad = true;
      init.set(`shift.${l}`, t);
    }
    const arena = ParamArena.fromTensors(init, { decay: () => false });
    for (const t of init.values()) t.dispose();
    const optimizer = new AdamW(arena, { lr: ftLr, weightDecay: 0 });
    for (const l of layers) setShift(model, l, arena.param(`shift.${l}`));
    const groups = batches(requests.map((r) => r.edit), lmBatch);
    const o = { backend: model.backend, maxLength: model.config.nCtx };
    const prepared = groups.map((g) => editBatch(g, o));
    try {
      const epochs = Math.max(ftEpochs, Math.ceil((this.config.ftMinSteps ?? 0) / prepared.length));
      for (let e = 0; e < epochs; e++) {
        for (const batch of prepared) {
          tidy(() => {
            optimizer.zeroGrad();
            lmLoss(answerLogits(model, batch), batch.targets).backward();
            optimizer.step();
          });
        }
        // Let queued work finish each epoch: bounds the queue and keeps Ctrl-C responsive.
        await sync(model.backend);
      }
      const out = new Map<number, Tensor>();
      for (const l of layers) {
        out.set(l, keep(clone(arena.param(`shift.${l}`))));
      }
      return out;
    } finally {
      for (const b of prepared) disposeBatch(b);
      clearShifts(model);
      optimizer.dispose();
      arena.dispose();
    }
  }
}
