// Which data the experiment's runs and results belong to, checked before any training. Two
// records, both `data.json`, at two levels: the runs folder names the `--data` its runs were
// trained on (`{ "data": "counterfact" }`, a file or folder path; a folder from before the
// record holds CounterFact runs), which catches runs of another data set even when they record
// nothing else; each trained run (lm/, malmen/, mend/: checked by the workflows) and the results
// folder record the hash of their exact records (`{ "data": "sha256:…" }`), which catches the
// same data set cut or changed. Results of other data are never written over the committed ones.
import { writeJsonAtomic } from "../../../engine/io/atomic.ts";
import { dataSpecLabel } from "../../../malmen/data/data_source.ts";
import { checkRunData, DATA_FILE, runDataHash, runPath } from "../../../malmen/lm/run_dir.ts";
import { dataHash } from "../../../malmen/lm/identity.ts";
import type { ExperimentPlan } from "./plan.ts";
import type { Splits } from "./runs.ts";

/** The hash of the records an experiment uses (its splits, cut to the plan's limits). */
export function splitsHash(splits: Splits): Promise<string> {
  return dataHash({ train: splits.train, val: splits.val, edit: splits.edit });
}

// The --data a runs folder records, and where that was read.
async function runsData(plan: ExperimentPlan): Promise<{ have: string; whence: string } | null> {
  const path = runPath(plan.runsDir, DATA_FILE);
  try {
    const have = (JSON.parse(await Deno.readTextFile(path)) as { data?: unknown }).data;
    if (typeof have !== "string") throw new TypeError('expected { "data": "<--data>" }');
    return { have, whence: path };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw new Error(`${path}: ${(e as Error).message}`);
  }
  const trained = await Deno.stat(runPath(plan.runsDir, "lm")).then(() => true, () => false);
  const whence = "no data.json: runs from before it was recorded are CounterFact's";
  return trained ? { have: "counterfact", whence } : null;
}

/**
 * Refuses a runs folder whose runs were trained on another `--data`: they would be measured on
 * facts they never learned. Reads only.
 * @param plan The plan (its runs folder and data).
 */
export async function checkRunsData(plan: ExperimentPlan): Promise<void> {
  const want = dataSpecLabel(plan.data);
  const record = await runsData(plan);
  if (record === null || record.have === want) return;
  throw new Error(
    `"${plan.runsDir}" holds runs trained on --data ${record.have} (${record.whence}), not ${want}: ` +
      `name another --runs folder`,
  );
}

/**
 * Records the runs folder's `--data` when it records none yet (call after
 * {@linkcode checkRunsData}).
 * @param plan The plan.
 */
export async function recordRunsData(plan: ExperimentPlan): Promise<void> {
  const path = runPath(plan.runsDir, DATA_FILE);
  if (await Deno.stat(path).then(() => true, () => false)) return;
  await Deno.mkdir(plan.runsDir, { recursive: true });
  await writeJsonAtomic(path, { data: dataSpecLabel(plan.data) });
}

/**
 * Refuses a results folder that holds results of other data (or of data it does not record),
 * before anything is computed.
 * @param dir The results folder.
 * @param hash The data of the results about to be written (null when unknown).
 */
export async function checkResultsDir(dir: string, hash: string | null): Promise<void> {
  const have = await runDataHash(dir);
  const report = runPath(dir, "counterfact.json");
  const holds = have !== null || await Deno.stat(report).then(() => true, () => false);
  if (!holds || (have !== null && have === hash)) return;
  const what = have === null ? "results of unrecorded data" : "results of other data";
  throw new Error(
    `"${dir}" holds ${what} (${runPath(dir, DATA_FILE)}); this run's data ${
      hash === null ? "is not recorded" : `is ${hash.slice(0, 19)}…`
    }: write its report elsewhere with --results DIR`,
  );
}

/**
 * Records the data of the results just written.
 * @param dir The results folder.
 * @param hash The data.
 */
export async function recordResultsData(dir: string, hash: string | null): Promise<void> {
  if (hash !== null) await checkRunData(dir, hash);
}
