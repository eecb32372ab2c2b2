// Memory of editing m facts at once with MALMEN: peak RSS and peak live GPU bytes while the
// shifts are computed, for m = 64 … 4096 (records cycle through the held-out split beyond its
// size; memory does not depend on which facts they are).
import { scoreEdit } from "../malmen/eval/edit_and_score.ts";
import { worldRuns } from "../malmen/workflows/world.ts";
import type { Bench, BenchContext } from "./types.ts";

/** The edit-memory benchmark. */
export const editMemoryBench: Bench = {
  name: "edit_memory",
  description: "peak RSS and GPU memory of MALMEN editing m = 64, 256, 1024, 4096 facts",
  async run(ctx: BenchContext): Promise<void> {
    const runs = await worldRuns({ dir: ctx.runs, backend: ctx.backend, train: false });
    const { editor } = await runs.editor("malmen");
    const sizes = ctx.quick ? [64, 256] : [64, 256, 1024, 4096];
    for (const m of sizes) {
      if (ctx.stop.requested) break;
      const requests = Array.from({ length: m }, (_, i) => runs.edits[i % runs.edits.length]);
      ctx.log(`edit_memory: m=${m}`);
      const o = await scoreEdit(runs.model, editor, requests, false);
      ctx.emit({
        bench: "edit_memory",
        m,
        peak_rss_mb: Math.round(o.peakRssMb),
        gpu_live_mb: Math.round(o.gpuLiveMb * 10) / 10,
        seconds: Math.round(o.seconds * 100) / 100,
      });
    }
    editor.dispose();
    runs.model.dispose();
  },
};
