/**
 * What every program takes and how it ends: `--backend` and `--help`, number flags checked
 * against their ranges up front with errors that name the flag and the range, a stop flag for
 * Ctrl-C, and one error line (no stack) with a non-zero exit.
 * @module
 */
import { type Backend, CPU, initWebGpu } from "../../engine/backend.ts";
import { describeRange, inRange, type Range } from "../../malmen/ranges.ts";

export { RANGES } from "../../malmen/ranges.ts";
export type { Range } from "../../malmen/ranges.ts";

/** Options every CLI takes: `--backend webgpu|cpu` and `--help`. */
export const COMMON_OPTIONS = {
  backend: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** Help text of the common options, for the programs' usage texts. */
export const COMMON_HELP =
  "  --backend webgpu|cpu  where to run (default webgpu; cpu is the float64 reference)\n" +
  "  --help                this text";

/** A bad flag or argument: the program exits with status 2 after one error line. */
export class UsageError extends Error {
  /** @param message What is wrong, naming the flag. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * The backend named by `--backend` (webgpu by default; cpu is the float64 reference).
 * @param name `webgpu` or `cpu`.
 */
export async function pickBackend(name: string | undefined): Promise<Backend> {
  if (name === "cpu") return CPU;
  if (name !== undefined && name !== "webgpu") {
    throw new UsageError(`Unknown backend "${name}": use "webgpu" or "cpu"`);
  }
  return await initWebGpu();
}

/**
 * Parses a number flag and checks it against its range: the one check every number flag goes
 * through, so each error names the flag and the range (`--lr must be a number > 0 and ≤ 1, got
 * "1e6"`).
 * @param name Flag name (for the error).
 * @param value Raw value.
 * @param fallback Default (used as is when the flag is absent).
 * @param range Allowed values (default: any finite number).
 */
export function num(
  name: string,
  value: string | undefined,
  fallback: number,
  range: Range = {},
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !inRange(n, range)) {
    throw new UsageError(`--${name} must be ${describeRange(range)}, got "${value}"`);
  }
  return n;
}

/**
 * Parses a number flag that may be absent (no default): undefined then.
 * @param name Flag name (for the error).
 * @param value Raw value.
 * @param range Allowed values.
 */
export function optionalNum(
  name: string,
  value: string | undefined,
  range: Range = {},
): number | undefined {
  return value === undefined ? undefined : num(name, value, 0, range);
}

/**
 * Parses a flag that must be an integer ≥ `min` (and ≤ `max`).
 * @param name Flag name (for the error).
 * @param value Raw value.
 * @param fallback Default.
 * @param min Smallest allowed value (default 1).
 * @param max Largest allowed value (default none).
 */
export function int(
  name: string,
  value: string | undefined,
  fallback: number,
  min = 1,
  max?: number,
): number {
  return num(name, value, fallback, { integer: true, min, max });
}

/**
 * Parses a comma-separated list of integers ≥ `min` (e.g. `--m 16,64,256`).
 * @param name Flag name (for the error).
 * @param value Raw value.
 * @param min Smallest allowed (default 1).
 */
export function intList(name: string, value: string, min = 1): number[] {
  return value.split(",").map((s) => {
    const n = Number(s);
    if (s.trim() === "" || !inRange(n, { integer: true, min })) {
      const what = min === 1 ? "positive integers" : `integers ≥ ${min}`;
      throw new UsageError(`--${name} must list ${what}, got "${s}"`);
    }
    return n;
  });
}

/**
 * Checks a flag against its allowed values.
 * @param name Flag name (for the error).
 * @param value Raw value.
 */
export function oneOf<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) {
    const list = allowed.length === 2
      ? allowed.join(" or ")
      : `${allowed.slice(0, -1).join(", ")} or ${allowed.at(-1)}`;
    throw new UsageError(`--${name} must be ${list}, got "${value}"`);
  }
  return value as T;
}

/**
 * A stop flag set by the first Ctrl-C (the second one exits at once): long work checks it after
 * each step and leaves resumable state.
 * @param what What happens on stop, for the message.
 */
export function stopOnSigint(
  what = "Stopping after the current step (a checkpoint will be written)...",
): { requested: boolean } {
  const stop = { requested: false };
  try {
    Deno.addSignalListener("SIGINT", () => {
      if (stop.requested) Deno.exit(130);
      stop.requested = true;
      console.error(`\n${what}`);
    });
  } catch {
    // Signals are unavailable on some platforms; Ctrl-C then just exits.
  }
  return stop;
}

/**
 * Runs a CLI main function; prints errors as one line (the stack with `ENGINE_DEBUG=1`) and
 * exits 2 on a usage error, 1 on any other.
 * @param main The program.
 */
export async function runCli(main: () => Promise<void>): Promise<void> {
  try {
    await main();
    Deno.exit(0);
  } catch (e) {
    const debug = Deno.env.get("ENGINE_DEBUG") === "1";
    console.error(`error: ${debug ? (e as Error).stack : (e as Error).message}`);
    // parseArgs' own errors (an unknown flag, a missing value) are usage errors too.
    const code = (e as { code?: unknown }).code;
    const usage = e instanceof UsageError ||
      (typeof code === "string" && code.startsWith("ERR_PARSE_ARGS"));
    Deno.exit(usage ? 2 : 1);
  }
}

/**
 * A fraction as a percentage with one decimal ("75.3%").
 * @param x The fraction.
 */
export function pct(x: number): string {
  return `${(100 * x).toFixed(1)}%`;
}

/**
 * Rounds to 4 decimals (JSON rows).
 */
export function r4(x: number): number {
  return Math.round(x * 10000) / 10000;
}
