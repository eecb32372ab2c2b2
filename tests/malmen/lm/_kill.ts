// Shared by the fault-injection tests and their child processes.
import { type GPTConfig, gptConfig } from "../../../engine/models/gpt/config.ts";
import type { Tokenizer } from "../../../engine/models/tokenizer/tokenizer.ts";

/** The tiny LM trained by the kill tests. */
export function tinyLmConfig(tokenizer: Tokenizer): GPTConfig {
  return gptConfig({
    vocabSize: tokenizer.vocabSize,
    nCtx: 24,
    dModel: 8,
    nLayer: 1,
    nHead: 2,
    layerNormEps: 1e-5,
  });
}

/** One epoch of 7 steps, a checkpoint after every step, every loss logged. */
export const TRAIN_OPTIONS = {
  batchSize: 32,
  lr: 1e-2,
  warmup: 2,
  maxEpochs: 1,
  targetAccuracy: 2,
  logEvery: 1,
  checkpointEvery: 0,
} as const;

/**
 * Starts a child Deno program and waits until it prints `line` (then it is killed with SIGKILL),
 * or until it exits.
 * @param args The program and its arguments.
 * @param line The line to wait for.
 * @returns Every line it printed before the kill.
 */
export async function killAfterLine(args: string[], line: string): Promise<string[]> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines: string[] = [];
  let rest = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    rest += decoder.decode(chunk, { stream: true });
    const parts = rest.split("\n");
    rest = parts.pop()!;
    lines.push(...parts);
    if (parts.includes(line)) break;
  }
  if (!lines.includes(line)) throw new Error(`the child never printed "${line}": ${lines}`);
  child.kill("SIGKILL");
  await child.status;
  await child.stdout.cancel().catch(() => {});
  return lines;
}
