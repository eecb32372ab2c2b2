// Research on a world run: MALMEN (or MEND-sum) meta-trained with keys at other positions (each in a folder of
// its own beside the run, `<runs>-keys-<at>`, reusing the run's LM), then the edit-time settings
// tried on the validation facts only. Prints one JSON line per key position and setting; the
// world settings in malmen/workflows/settings.ts were read off these lines (BENCHMARKS.md).
import { parseArgs } from "node:util";
import { scoreEdit } from "../../malmen/eval/edit_and_score.ts";
import { harmonicMean, type ScoreSummary, selectionScore } from "../../malmen/eval/metrics.ts";
import type { EditRequest } from "../../malmen/eval/requests.ts";
import type { Editor } from "../../malmen/editors/editor.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { worldRuns } from "../../malmen/workflows/world.ts";
import { DEFAULT_WORLD } from "../../malmen/workflows/settings.ts";
import type { WorldOptions } from "../../malmen/data/world.ts";
import type { KeyPositions } from "../../malmen/mod.ts";
import {
  COMMON_HELP,
  COMMON_OPTIONS,
  int,
  intList,
  oneOf,
  pickBackend,
  r4,
  runCli,
  stopOnSigint,
  UsageError,
} from "../../examples/_cli/mod.ts";

const HELP = `Usage: deno run -A bench/experiments/key_positions.ts --runs DIR [options]

Options:
  --runs DIR       a world run folder: its LM is trained there first when missing
  --seed N         the world's seed when DIR holds none yet (default 1, the default world)
  --editor NAME    malmen (default) or mend
  --at LIST        key positions to meta-train with (default first,all)
  --steps N        meta-steps (default 30, the demo's budget)
  --passes LIST    edit passes tried on val (default 1,3,7)
  --eta-scales LIST  factors on each pass's shift tried on val (default 1,3)
  --key-priors LIST  edit key priors μ tried on val (MALMEN; default 3000)
  --group N        edit the validation facts N at a time and average (default: all at once)
${COMMON_HELP}`;

await runCli(async () => {
  const { values: v } = parseArgs({
    args: Deno.args,
    options: {
      runs: { type: "string" },
      seed: { type: "string", default: "1" },
      editor: { type: "string", default: "malmen" },
      at: { type: "string", default: "first,all" },
      steps: { type: "string", default: "30" },
      passes: { type: "string", default: "1,3,7" },
      "eta-scales": { type: "string", default: "1,3" },
      "key-priors": { type: "string", default: "3000" },
      group: { type: "string" },
      ...COMMON_OPTIONS,
    },
  });
  if (v.help) return console.log(HELP);
  if (v.runs === undefined) throw new UsageError("--runs DIR is required (see --help)");
  const runsDir = v.runs.replace(/\/+$/, "");
  const positions = v.at!.split(",").map((a) =>
    oneOf("at", a.trim(), ["answer", "first", "all"] as const) as KeyPositions
  );
  const name = oneOf("editor", v.editor!, ["malmen", "mend"] as const);
  const steps = int("steps", v.steps, 1);
  const passes = intList("passes", v.passes!);
  const scales = intList("eta-scales", v["eta-scales"]!);
  const priors = intList("key-priors", v["key-priors"]!, 0);
  const group = v.group === undefined ? undefined : int("group", v.group, 1);
  const world: WorldOptions = await Deno.readTextFile(`${runsDir}/world.json`).then(
    (t) => JSON.parse(t),
    () => ({ ...DEFAULT_WORLD, seed: int("seed", v.seed, 1) }),
  );
  const backend = await pickBackend(v.backend);
  const stop = stopOnSigint("Stopping after the current step...");
  const log = (m: string) => console.error(m);
  (await worldRuns({ dir: runsDir, backend, world, stop, log })).model.dispose();
  for (const at of positions) {
    const dir = `${runsDir}-keys-${at}`;
    await Deno.mkdir(dir, { recursive: true });
    await Deno.symlink(await Deno.realPath(`${runsDir}/lm`), `${dir}/lm`).catch(() => {});
    await Deno.copyFile(`${runsDir}/world.json`, `${dir}/world.json`);
    const runs = await worldRuns({
      dir,
      backend,
      world,
      editor: { keyPositions: at },
      budget: { metaSteps: steps, metaMinutes: 60 },
      stop,
      log,
    });
    const { editor, provenance } = await runs.editor(name);
    for (
      const [p, scale, mu] of passes.flatMap((p) =>
        scales.flatMap((s) => priors.map((mu) => [p, s, mu]))
      )
    ) {
      if (stop.requested) break;
      editor.editPasses = p;
      editor.config.editEtaScale = scale;
      editor.config.editEtaScaleBySize = undefined; // the grid's scale at every size
      if (name === "malmen") editor.setEditKeyPrior(mu);
      const after = await scoreInGroups(runs.model, editor, runs.val, group ?? runs.val.length);
      console.log(JSON.stringify({
        experiment: "key_positions",
        editor: name,
        world_seed: world.seed,
        at,
        checkpoint_step: provenance.step,
        passes: p,
        eta_scale: scale,
        edit_key_prior: mu,
        m: Math.min(group ?? runs.val.length, runs.val.length),
        val_es: r4(after.es),
        val_gs: r4(after.gs),
        val_ls: r4(after.ls),
        val_selection: r4(selectionScore(after)),
        val_score: r4(after.score),
      }));
    }
    editor.dispose();
    runs.model.dispose();
  }
});

// Edits `val` in consecutive groups of `group` facts (each from the unedited model) and averages
// the scores over facts.
async function scoreInGroups(
  model: GPT,
  editor: Editor,
  val: readonly EditRequest[],
  group: number,
): Promise<ScoreSummary> {
  const keys = ["es", "gs", "ls", "efficacy", "paraphrase", "neighborhood"] as const;
  const sum = { es: 0, gs: 0, ls: 0, efficacy: 0, paraphrase: 0, neighborhood: 0 };
  for (let i = 0; i < val.length; i += group) {
    const part = val.slice(i, i + group);
    const { after } = await scoreEdit(model, editor, part, false);
    for (const k of keys) sum[k] += after[k] * part.length;
  }
  for (const k of keys) sum[k] /= val.length;
  return { ...sum, score: harmonicMean([sum.efficacy, sum.paraphrase, sum.neighborhood]) };
}
