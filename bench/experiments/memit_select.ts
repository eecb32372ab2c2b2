// MEMIT's settings on a world's validation split: every candidate (a JSON list of settings over
// `defaultMemitSettings`) edits the validation facts at once from the unedited LM, and one JSON
// line per candidate gives ES / GS / LS, the CounterFact scores, the selection score (harmonic
// mean of ES, GS and LS) and the least-squares residual per layer. Only the validation split is
// read: this is how `defaultMemitSettings` was chosen (BENCHMARKS.md, "MEMIT").
import { parseArgs } from "node:util";
import { keyCovariances } from "../../malmen/algorithm/key_prior.ts";
import { generateWorld } from "../../malmen/data/world.ts";
import {
  defaultMemitSettings,
  MemitEditor,
  type MemitSettings,
} from "../../malmen/editors/memit.ts";
import { scoreEdit } from "../../malmen/eval/edit_and_score.ts";
import { selectionScore } from "../../malmen/eval/metrics.ts";
import { toRequests } from "../../malmen/eval/requests.ts";
import { encodeFact, worldCorpus } from "../../malmen/lm/corpus.ts";
import { loadLmRun } from "../../malmen/lm/load.ts";
import { DEFAULT_WORLD } from "../../malmen/workflows/settings.ts";
import {
  COMMON_HELP,
  COMMON_OPTIONS,
  int,
  pickBackend,
  r4,
  runCli,
  scoreLine,
  stopOnSigint,
  UsageError,
} from "../../examples/_cli/mod.ts";

const HELP = `Usage: deno run -A bench/experiments/memit_select.ts --grid JSON [options]

Options:
  --grid JSON      candidates, e.g. '[{"layers":[1,2]},{"layers":[2],"lambda":1000}]'
  --lm DIR         the world's LM run (default runs/demo/lm)
  --world-seed N   the world's generator seed (default ${DEFAULT_WORLD.seed}: the default world)
  --m N            validation facts edited at once (default: all)
${COMMON_HELP}`;

await runCli(async () => {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      grid: { type: "string" },
      lm: { type: "string", default: "runs/demo/lm" },
      "world-seed": { type: "string" },
      m: { type: "string" },
      ...COMMON_OPTIONS,
    },
  });
  if (v.help) return console.log(HELP);
  if (v.grid === undefined) throw new UsageError("--grid JSON is required (see --help)");
  let grid: Partial<MemitSettings>[];
  try {
    grid = JSON.parse(v.grid);
  } catch {
    throw new UsageError(`--grid must be a JSON list of settings, got "${v.grid}"`);
  }
  if (!Array.isArray(grid) || grid.length === 0) {
    throw new UsageError("--grid must be a non-empty JSON list of settings");
  }
  const seed = int("world-seed", v["world-seed"], DEFAULT_WORLD.seed!, 0);
  const backend = await pickBackend(v.backend);
  const stop = stopOnSigint("Stopping after the current candidate...");
  const world = generateWorld({ ...DEFAULT_WORLD, seed });
  const { model, tokenizer } = await loadLmRun(v.lm!, backend);
  const n = model.config.nCtx;
  const val = toRequests(tokenizer, world.val, n);
  const m = int("m", v.m, val.length);
  const candidates = grid.map((g) => ({ ...defaultMemitSettings(model.config.nLayer), ...g }));
  const layers = [...new Set(candidates.flatMap((c) => c.layers))].sort((a, b) => a - b);
  const texts = worldCorpus(world).training.map((f) => {
    const p = encodeFact(tokenizer, f);
    return [...p.prompt, ...p.answer];
  });
  const t0 = performance.now();
  const covs = keyCovariances(model, texts, layers);
  console.error(
    `key covariances of blocks ${layers} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  for (let i = 0; i < candidates.length && !stop.requested; i++) {
    const c = candidates[i];
    // The editors borrow the covariances (none is disposed here).
    const editor = new MemitEditor(model, c, new Map(c.layers.map((l) => [l, covs.get(l)!])));
    const o = await scoreEdit(model, editor, val.slice(0, m), false);
    console.log(JSON.stringify({
      bench: "memit_select",
      world_seed: seed,
      candidate: grid[i],
      ...scoreLine(o),
      selection: r4(selectionScore(o.after)),
      residual: editor.lastFit?.map(r4) ?? null,
    }));
  }
  for (const c of covs.values()) c.dispose();
  model.dispose();
});
