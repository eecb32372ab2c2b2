// Edit quality on the embedded world: m = 512 held-out facts edited at once by MALMEN and the
// MEND-sum baseline (and fine-tuning), ES / GS / LS after the edit.
import { initWebGpu } from "../engine/backend.ts";
import { FtEditor } from "../malmen/editors/ft.ts";
import { defaultEditorConfig } from "../malmen/editors/editor.ts";
import { revertShifts } from "../malmen/editors/journal.ts";
import { editAndScore } from "../malmen/workflows.ts";
import type { Bench, BenchContext } from "./types.ts";
import { worldRuns } from "./world_runs.ts";

const r4 = (x: number): number => Math.round(x * 10000) / 10000;

/** The edit-quality benchmark. */
export const editQualityBench: Bench = {
  name: "edit_quality",
  description: "ES/GS/LS of m = 512 simultaneous edits on held-out world facts (MALMEN, MEND, FT)",
  async run(ctx: BenchContext): Promise<void> {
    const gpu = await initWebGpu();
    const runs = await worldRuns(gpu, ctx.log);
    const m = Math.min(ctx.quick ? 64 : 512, runs.edits.length);
    const requests = runs.edits.slice(0, m);
    const editors = [
      await runs.editor("malmen"),
      await runs.editor("mend"),
      new FtEditor(defaultEditorConfig(runs.model.config.nLayer)),
    ];
    for (const editor of editors) {
      ctx.log(`edit_quality: ${editor.name}, m=${m}`);
      const o = await editAndScore(runs.model, editor, requests, false);
      revertShifts(runs.model);
      for (const t of o.shifts.values()) t.dispose();
      ctx.emit({
        bench: "edit_quality",
        editor: editor.name,
        m,
        es: r4(o.after.es),
        gs: r4(o.after.gs),
        ls: r4(o.after.ls),
        efficacy: r4(o.after.efficacy),
        paraphrase: r4(o.after.paraphrase),
        neighborhood: r4(o.after.neighborhood),
        seconds: r4(o.seconds),
      });
    }
  },
};
