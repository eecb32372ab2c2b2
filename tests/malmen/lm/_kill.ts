// Shared by the fault-injection tests and their child processes.

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
 * Makes the child process stop for good (printing "paused", to be killed) when it is about to
 * rename or link a file into place whose path ends with `suffix`: a write caught mid-way.
 * @param op The file operation to intercept.
 * @param suffix The end of the target path.
 */
export function pauseBefore(op: "rename" | "link", suffix: string): void {
  const original = Deno[op];
  Object.assign(Deno, {
    [op]: async (from: string, to: string) => {
      if (String(to).endsWith(suffix)) {
        console.log("paused");
        await new Promise(() => {});
      }
      return await original(from, to);
    },
  });
}

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
