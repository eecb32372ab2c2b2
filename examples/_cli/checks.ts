/**
 * What the programs check before any long work starts: the inputs named by flags exist (an input
 * file, a trained run, a Hugging Face GPT-2 directory), and the output folder can be written and
 * has room for what will be written. Each error names the flag and the path.
 * @module
 */
import { checkOutputDir } from "../../engine/io/output_dir.ts";
import { configFromHf, type GPTConfig, gptConfig } from "../../engine/models/gpt/config.ts";
import { MEMIT_FILE } from "../../malmen/editors/memit.ts";
import { latestCheckpoint, runPath } from "../../malmen/lm/run_dir.ts";
import { type LmSource, lmSourceLabel } from "../../malmen/lm/source.ts";
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
 * Checks that a flag names a language model and reads its configuration (without its weights):
 * a trained LM run (its latest checkpoint), or for `hf:DIR` a Hugging Face GPT-2 directory
 * holding `config.json` and `model.safetensors`.
 * @param flag Flag name (for the error).
 * @param source The run folder or HF directory.
 * @returns The model configuration.
 */
export async function requireLmRun(flag: string, source: LmSource): Promise<GPTConfig> {
  if (source.kind === "hf") return await requireHfDir(flag, source.dir);
  const dir = source.dir;
  const latest = await latestCheckpoint(dir).catch((e: Error) => {
    throw new UsageError(`--${flag}: ${e.message}`);
  });
  if (latest === null) {
    throw new UsageError(
      `--${flag}: "${dir}" holds no trained language model (no latest.json): train one first ` +
        `(deno task train), or name another run folder (or hf:DIR for a Hugging Face GPT-2 ` +
        `directory)`,
    );
  }
  const path = runPath(latest.folder, "config.json");
  try {
    return gptConfig(JSON.parse(await Deno.readTextFile(path)));
  } catch (e) {
    throw new UsageError(`--${flag}: "${path}" cannot be read: ${(e as Error).message}`);
  }
}

// An HF GPT-2 directory: both files present, and a configuration this engine computes.
async function requireHfDir(flag: string, dir: string): Promise<GPTConfig> {
  const label = lmSourceLabel({ kind: "hf", dir });
  for (const file of ["config.json", "model.safetensors"]) {
    const info = await Deno.stat(`${dir}/${file}`).catch(() => null);
    if (info === null || !info.isFile) {
      throw new UsageError(
        `--${flag}: "${label}" is not a Hugging Face GPT-2 directory: "${dir}/${file}" is ` +
          `missing (it needs config.json and model.safetensors)`,
      );
    }
  }
  const path = `${dir}/config.json`;
  try {
    return configFromHf(JSON.parse(await Deno.readTextFile(path)), path);
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
 * Checks that a flag names a MEMIT editor folder (with `memit.json`, as `deno task train --editor
 * memit` writes it).
 * @param flag Flag name (for the error).
 * @param dir The folder.
 */
export async function requireMemitDir(flag: string, dir: string): Promise<void> {
  const info = await Deno.stat(runPath(dir, MEMIT_FILE)).catch(() => null);
  if (info === null || !info.isFile) {
    throw new UsageError(
      `--${flag}: "${dir}" holds no MEMIT editor (no ${MEMIT_FILE}): set one up first ` +
        `(deno task train --editor memit), or name another folder`,
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
