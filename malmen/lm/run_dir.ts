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
  await platform().mkdir(folder);
  await write(folder);
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
  await platform().mkdir(folder);
  await write(folder);
  await writeJsonAtomic(
    runPath(dir, "best.json"),
    { checkpoint: rel, step } satisfies LatestPointer,
  );
  if (previous !== null && previous.folder !== folder) {
    await platform().remove(previous.folder).catch(() => {});
  }
  return folder;
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
 * Writes a text file into the run directory atomically.
 * @param text Contents.
 */
export async function writeRunFile(dir: string, name: string, text: string): Promise<void> {
  await writeFileAtomic(runPath(dir, name), text);
}
