/**
 * What the programs check before any long work starts: the inputs named by flags exist (an input
 * file, a trained run), and the output folder can be written and has room for what will be
 * written. Each error names the flag and the path.
 * @module
 */
import { checkOutputDir } from "../../engine/io/output_dir.ts";
import { type GPTConfig, gptConfig } from "../../engine/models/gpt/config.ts";
import { latestCheckpoint, runPath } from "../../malmen/lm/run_dir.ts";
import { UsageError } from "./options.ts";

/**
 * Checks that a flag names a readable file.
 * @param flag Flag name (for the error).
 * @param path The path given.
 */
export async function requireFile(flag: string, path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (e) {
    throw new UsageError(`--${flag}: "${path}" cannot be read (${(e as Error).message})`);
  }
  if (!info.isFile) throw new UsageError(`--${flag}: "${path}" is not a file`);
}

/**
 * Checks that a flag names a trained LM run and reads its configuration (without its weights).
 * @param flag Flag name (for the error).
 * @param dir The run folder.
 * @returns The model configuration of its latest checkpoint.
 */
export async function requireLmRun(flag: string, dir: string): Promise<GPTConfig> {
  const latest = await latestCheckpoint(dir).catch((e: Error) => {
    throw new UsageError(`--${flag}: ${e.message}`);
  });
  if (latest === null) {
    throw new UsageError(
      `--${flag}: "${dir}" holds no trained language model (no latest.json): train one first ` +
        `(deno task train), or name another run folder`,
    );
  }
  const path = runPath(latest.folder, "config.json");
  try {
    return gptConfig(JSON.parse(await Deno.readTextFile(path)));
  } catch (e) {
    throw new UsageError(`--${flag}: "${path}" cannot be read: ${(e as Error).message}`);
  }
}

/**
 * Checks that a flag names a trained editor: a run folder (with a checkpoint) or a checkpoint
 * folder (with `editor.json`).
 * @param flag Flag name (for the error).
 * @param dir The folder.
 */
export async function requireEditorRun(flag: string, dir: string): Promise<void> {
  const latest = await latestCheckpoint(dir).catch(() => null);
  const isCheckpoint = await Deno.stat(runPath(dir, "editor.json")).then(() => true, () => false);
  if (latest === null && !isCheckpoint) {
    throw new UsageError(
      `--${flag}: "${dir}" holds no trained editor (neither latest.json nor editor.json): ` +
        `meta-train one first (deno task train --editor malmen), or name another folder`,
    );
  }
}

/**
 * Checks that the output folder of a flag can be created and written, with room for `bytes`.
 * @param flag Flag name (for the error).
 * @param dir The folder.
 * @param bytes What will be written there, estimated.
 * @param what What that is, for the message.
 */
export async function requireOutput(
  flag: string,
  dir: string,
  bytes: number,
  what: string,
): Promise<void> {
  try {
    const info = await Deno.stat(dir).catch(() => null);
    if (info !== null && !info.isDirectory) throw new Error(`"${dir}" is not a folder`);
    await checkOutputDir(dir, bytes, what);
  } catch (e) {
    throw new UsageError(`--${flag}: ${(e as Error).message}`);
  }
}
