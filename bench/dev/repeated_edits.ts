// Resident memory over many small edits in one process, with and without a forced garbage
// collection after each: the pool's and the live tensors' bytes stay flat either way, while the
// process grows unless JS collects the WebGPU wrappers (bind groups, encoders) whose native
// objects are freed only by their finalizers.
// deno run -A [--v8-flags=--expose-gc] bench/dev/repeated_edits.ts [runs/demo] [edits]
import { tryWebGpu } from "../../engine/backend.ts";
import { loadLmRun } from "../../malmen/lm/load.ts";
import { loadEditorRun } from "../../malmen/workflows/runs.ts";
import { scoreEdit } from "../../malmen/eval/edit_and_score.ts";
import { toRequests } from "../../malmen/eval/requests.ts";
import { loadEditRecords } from "../../malmen/data/edit_records.ts";

const [runs = "runs/demo", count = "30"] = Deno.args;
const gpu = await tryWebGpu();
if (gpu === null) throw new Error("No WebGPU adapter");
const { model, tokenizer } = await loadLmRun(`${runs}/lm`, gpu);
const { editor } = await loadEditorRun(`${runs}/malmen`, model);
const requests = toRequests(
  tokenizer,
  await loadEditRecords(`${runs}/edits.json`),
  model.config.nCtx,
);
const gc = (globalThis as { gc?: () => void }).gc;
console.log(`${gc ? "with" : "without"} a forced GC after each edit of 8 facts`);
for (let i = 0; i < Number(count); i++) {
  const at = (i % 10) * 8;
  await scoreEdit(model, editor, requests.slice(at, at + 8), false);
  gc?.();
  if (i % 5 === 4) {
    const { liveBytes, pooledBytes } = gpu.dispatcher.pool.stats();
    const mb = (b: number) => Math.round(b / 1e6);
    console.log(JSON.stringify({
      edits: i + 1,
      rss_mb: mb(Deno.memoryUsage().rss),
      js_heap_mb: mb(Deno.memoryUsage().heapUsed),
      live_mb: mb(liveBytes),
      pooled_mb: mb(pooledBytes),
    }));
  }
}
editor.dispose();
model.dispose();
