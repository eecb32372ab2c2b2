/**
 * A training run's directory: static files (config, tokenizer) at the root and numbered
 * checkpoints, each complete, with `latest.json` switched atomically to the newest one. A crash
 * at any moment leaves the previous checkpoint usable.
 * @module
 */
import { writeFileAtomic, writeJsonAtomic } from "../../engine/io/atomic.ts";
import { isNotFound, platform } from "../../engine/platform/mod.ts";

/** Where the newest complete checkpoint is. */
export interface LatestPointer {
  /** Checkpoint folder relative to the run directory. */
  checkpoint: string;
  /** Step it was written at. */
  step: number;
}

/**
 * Path helper for a run directory.
 * @param name A file or folder inside it.
 */
export function runPath(dir: string, name: string): string {
  return `${dir.replace(/\/+$/, "")}/${name}`;
}

/**
 * Writes one checkpoint: `write(folder)` fills a fresh folder, then `latest.json` points to it
 * and older checkpoints (beyond `keep`) are removed.
 * @param step Step number (names the folder).
 * @param write Writes the checkpoint's files into the folder.
 * @param keep How many checkpoints to keep (default 2).
 */
export async function writeCheckpoint(
  dir: string,
  step: number,
  write: (folder: string) => Promise<void>,
  keep = 2,
): Promise<string> {
  const rel = `checkpoints/step-${String(step).padStart(7, "0")}`;
  const folder = runPath(dir, rel);
  await fillFolder(folder, write);
  await writeJsonAtomic(
    runPath(dir, "latest.json"),
    { checkpoint: rel, step } satisfies LatestPointer,
  );
  const all: string[] = [];
  for (const e of await platform().listDir(runPath(dir, "checkpoints"))) {
    if (e.isDirectory && e.name.startsWith("step-")) all.push(e.name);
  }
  all.sort();
  for (const old of all.slice(0, Math.max(0, all.length - keep))) {
    if (`checkpoints/${old}` !== rel) {
      await platform().remove(runPath(dir, `checkpoints/${old}`)).catch(() => {});
    }
  }
  return folder;
}

/**
 * The newest complete checkpoint of a run, or null when the run has none.
 * @returns Its folder and step.
 */
export function latestCheckpoint(
  dir: string,
): Promise<{ folder: string; step: number } | null> {
  return readPointer(dir, "latest.json");
}

/**
 * The checkpoint a run selected as its best (`best.json`, written by
 * {@linkcode writeBestCheckpoint}), or null when it has none.
 * @returns Its folder and step.
 */
export function bestCheckpoint(
  dir: string,
): Promise<{ folder: string; step: number } | null> {
  return readPointer(dir, "best.json");
}

/**
 * Writes the run's best checkpoint so far: a fresh `best-<step>` folder, then `best.json`
 * switched to it atomically, then the previous best removed. `latest.json` and its pruning
 * are untouched, so the best survives however long training goes on.
 * @param step Step number.
 * @param write Fills the folder.
 */
export async function writeBestCheckpoint(
  dir: string,
  step: number,
  write: (folder: string) => Promise<void>,
): Promise<string> {
  const previous = await bestCheckpoint(dir);
  const rel = `checkpoints/best-${String(step).padStart(7, "0")}`;
  const folder = runPath(dir, rel);
  await fillFolder(folder, write);
  await writeJsonAtomic(
    runPath(dir, "best.json"),
    { checkpoint: rel, step } satisfies LatestPointer,
  );
  if (previous !== null && previous.folder !== folder) {
    await platform().remove(previous.folder).catch(() => {});
  }
  return folder;
}

// A checkpoint folder is complete or absent: a failed write (a full disk, non-finite weights)
// removes what it began, unless the folder is the one a pointer names already.
async function fillFolder(folder: string, write: (folder: string) => Promise<void>): Promise<void> {
  const existed = await platform().stat(folder).then(() => true, () => false);
  await platform().mkdir(folder);
  try {
    await write(folder);
  } catch (e) {
    if (!existed) await platform().remove(folder).catch(() => {});
    throw e;
  }
}

async function readPointer(
  dir: string,
  name: string,
): Promise<{ folder: string; step: number } | null> {
  let text: string;
  try {
    text = await platform().readTextFile(runPath(dir, name));
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
  let p: LatestPointer;
  try {
    p = JSON.parse(text);
  } catch {
    throw new TypeError(`${runPath(dir, name)}: invalid JSON`);
  }
  if (typeof p.checkpoint !== "string" || typeof p.step !== "number") {
    throw new TypeError(
      `${runPath(dir, name)}: fields "checkpoint" and "step" are required`,
    );
  }
  return { folder: runPath(dir, p.checkpoint), step: p.step };
}

/**
 * Removes a run's checkpoints and pointers (`latest.json`, `best.json`), before a run starts
 * afresh in the folder: a new run's first checkpoints would otherwise sort below the old ones,
 * and an old `best.json` would outlive its run.
 */
export async function clearCheckpoints(dir: string): Promise<void> {
  for (const name of ["latest.json", "best.json", "checkpoints"]) {
    await platform().remove(runPath(dir, name)).catch((e) => {
      if (!isNotFound(e)) throw e;
    });
  }
}

/**
 * Reads a JSON file of a run; a missing, unreadable or damaged file is reported by path.
 * @param path The file.
 */
export async function readRunJson<T>(path: string): Promise<T> {
  let text: string;
  try {
    text = await platform().readTextFile(path);
  } catch (e) {
    throw new Error(`Cannot read "${path}": ${(e as Error).message}`, { cause: e });
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new TypeError(`"${path}" is not valid JSON (${(e as Error).message})`);
  }
}

/**
 * Writes a text file into the run directory atomically.
 * @param text Contents.
 */
export async function writeRunFile(dir: string, name: string, text: string): Promise<void> {
  await writeFileAtomic(runPath(dir, name), text);
}

/** A run folder's record of the data it was trained on (`{ "data": "sha256:…" }`). */
export const DATA_FILE = "data.json";

/** A run is about to be continued or reused with data other than its own. */
export class OtherDataError extends Error {
  /**
   * Creates the error.
   * @param message Names the folder, both hashes and the way out.
   */
  constructor(message: string) {
    super(message);
    this.name = "OtherDataError";
  }
}

/**
 * The data hash a run folder records, or null when it records none (a new folder, or a run from
 * before runs recorded their data).
 */
export async function runDataHash(dir: string): Promise<string | null> {
  const path = runPath(dir, DATA_FILE);
  let text: string;
  try {
    text = await platform().readTextFile(path);
  } catch (e) {
    if (isNotFound(e)) return null;
    throw new Error(`Cannot read "${path}": ${(e as Error).message}`);
  }
  try {
    const data = JSON.parse(text).data;
    if (typeof data === "string") return data;
  } catch { /* reported below */ }
  throw new TypeError(`${path}: expected { "data": "sha256:…" }`);
}

/**
 * Checks that a run folder was trained on the data of `hash` (a folder that records none passes),
 * then records it. With `fresh` (training from scratch into the folder) the old record is
 * replaced instead of compared.
 * @param hash The data's hash (`dataHash` of its corpus or records).
 * @param options `fresh`: the run starts afresh; `write`: record the hash (default true).
 * @throws {OtherDataError} When the folder records other data and the run is not fresh.
 */
export async function checkRunData(
  dir: string,
  hash: string,
  options: { fresh?: boolean; write?: boolean } = {},
): Promise<void> {
  const have = await runDataHash(dir);
  if (have !== null && have !== hash && !options.fresh) {
    throw new OtherDataError(
      `"${dir}" holds a run trained on other data (${runPath(dir, DATA_FILE)}: ${
        have.slice(0, 19)
      }…, this data: ${hash.slice(0, 19)}…): retrain, or name another run folder`,
    );
  }
  if ((options.write ?? true) && have !== hash) {
    await writeJsonAtomic(runPath(dir, DATA_FILE), { data: hash });
  }
}
