/**
 * What every program takes and how it ends: `--backend` and `--help`, number flags with errors
 * that name the flag, a stop flag for Ctrl-C, and one error line (no stack) with a non-zero exit.
 * @module
 */
import { type Backend, CPU, initWebGpu } from "../../engine/backend.ts";

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
 * Parses a number flag.
 * @param name Flag name (for the error).
 * @param value Raw value.
 * @param fallback Default.
 */
export function num(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${value}"`);
  return n;
}

/**
 * Parses a flag that must be an integer ≥ `min`.
 * @param name Flag name (for the error).
 * @param value Raw value.
 * @param fallback Default.
 * @param min Smallest allowed value (default 1).
 */
export function int(name: string, value: string | undefined, fallback: number, min = 1): number {
  const n = num(name, value, fallback);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer ≥ ${min}, got "${value}"`);
  }
  return n;
}

/**
 * Parses a comma-separated list of positive integers (e.g. `--m 16,64,256`).
 * @param name Flag name (for the error).
 * @param value Raw value.
 */
export function intList(name: string, value: string): number[] {
  return value.split(",").map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) {
      throw new UsageError(`--${name} must list positive integers, got "${s}"`);
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
    Deno.exit(e instanceof UsageError ? 2 : 1);
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
