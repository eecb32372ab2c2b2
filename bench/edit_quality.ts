// Edit quality on the embedded world: m = 512 held-out facts edited at once by MALMEN and the
// MEND-sum baseline (each at its checkpoint chosen on the validation split), fine-tuning (its
// edited blocks chosen on the validation split, as in the demo) and MEMIT (its settings chosen
// on the validation split), ES / GS / LS after the edit.
import { scoreEdit } from "../malmen/eval/edit_and_score.ts";
import { worldRuns } from "../malmen/workflows/world.ts";
import { scoreLine } from "../examples/_cli/score_line.ts";
import type { Bench, BenchContext } from "./types.ts";

/** The edit-quality benchmark. */
export const editQualityBench: Bench = {
  name: "edit_quality",
  description:
    "ES/GS/LS of m = 512 simultaneous edits on held-out world facts (MALMEN, MEND, FT, MEMIT)",
  async run(ctx: BenchContext): Promise<void> {
    const runs = await worldRuns({ dir: ctx.runs, backend: ctx.backend, train: false });
    const m = Math.min(ctx.quick ? 64 : 512, runs.edits.length);
    const requests = runs.edits.slice(0, m);
    const editors = [
      (await runs.editor("malmen")).editor,
      (await runs.editor("mend")).editor,
      (await runs.ft()).editor,
      (await runs.memit()).editor,
    ];
    for (const editor of editors) {
      if (ctx.stop.requested) break;
      ctx.log(`edit_quality: ${editor.name}, m=${m}`);
      const o = await scoreEdit(runs.model, editor, requests, false);
      ctx.emit({ bench: "edit_quality", ...scoreLine(o) });
    }
    for (const e of editors) (e as { dispose?: () => void }).dispose?.();
    runs.model.dispose();
  },
};
