// Runs a Deno program of this repository as the CLIs are run (`deno run -A ...`), for the tests
// of exit codes and messages.

/** What a run printed and how it ended. */
export interface RunResult {
  /** Exit code. */
  code: number;
  /** Standard output. */
  out: string;
  /** Standard error. */
  err: string;
}

/**
 * Runs `deno run -A ...args` in the repository root (the tests' working directory).
 * @param args The program and its flags.
 * @param env Extra environment variables.
 */
export async function runDeno(
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<RunResult> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}
