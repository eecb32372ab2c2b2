// Which data the experiment's results belong to: the results folder records the hash of the
// records they were made from (`data.json`; the trained runs record theirs), so results of other
// data are never written over the committed ones.
import { checkRunData, runDataHash, runPath } from "../../../malmen/lm/run_dir.ts";
import { dataHash } from "../../../malmen/lm/identity.ts";
import type { Splits } from "./runs.ts";

/** The hash of the records an experiment uses (its splits, cut to the plan's limits). */
export function splitsHash(splits: Splits): Promise<string> {
  return dataHash({ train: splits.train, val: splits.val, edit: splits.edit });
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
    `"${dir}" holds ${what} (${runPath(dir, "data.json")}); this run's data ${
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
