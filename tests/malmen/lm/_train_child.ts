// Fault-injection child: trains the tiny world's LM into a folder, checkpointing every step,
// printing each step; with `--pause-at-step N` it stops for good in the middle of step N's
// checkpoint (model written, optimizer state not, latest.json still on step N-1), to be killed.
import { CPU } from "../../../engine/backend.ts";
import { trainLm } from "../../../malmen/lm/train.ts";
import { pauseBefore, TRAIN_OPTIONS } from "./_kill.ts";
import { tinyLmConfig, tinyWorld } from "../_lm.ts";

const [dir, flag, value] = Deno.args;
if (flag === "--pause-at-step") {
  pauseBefore("rename", `step-${value.padStart(7, "0")}/optimizer.safetensors`);
}
const { corpus, tokenizer } = await tinyWorld();
const r = await trainLm(corpus, tokenizer, {
  ...TRAIN_OPTIONS,
  config: tinyLmConfig(tokenizer),
  backend: CPU,
  outDir: dir,
  resume: true,
  onStep: (i) => console.log(`step ${i.step}`),
});
console.log(`done ${r.steps}`);
