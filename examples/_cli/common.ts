// Shared CLI plumbing: backend choice, Ctrl-C handling, JSON output, errors without stack noise.
import { type Backend, CPU, initWebGpu } from "../../engine/backend.ts";

/** Options every CLI takes: `--backend webgpu|cpu` and `--help`. */
export const COMMON_OPTIONS = {
  backend: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

/**
 * The backend named by `--backend` (webgpu by default; cpu is the float64 reference).
 * @param name `webgpu` or `cpu`.
 * @returns The backend.
 */
export async function pickBackend(name: string | undefined): Promise<Backend> {
  if (name === "cpu") return CPU;
  if (name !== undefined && name !== "webgpu") {
    throw new TypeError(`Unknown backend "${name}": use "webgpu" or "cpu"`);
  }
  return await initWebGpu();
}

/**
 * A stop flag set by the first Ctrl-C (the second one exits at once).
 * @returns The flag object.
 */
export function stopOnSigint(): { requested: boolean } {
  const stop = { requested: false };
  try {
    Deno.addSignalListener("SIGINT", () => {
      if (stop.requested) Deno.exit(130);
      stop.requested = true;
      console.error("\nStopping after the current step (a checkpoint will be written)...");
    });
  } catch {
    // Signals are unavailable on some platforms; Ctrl-C then just exits.
  }
  return stop;
}

/**
 * Runs a CLI main function; prints errors as one line and exits non-zero.
 * @param main The program.
 */
export async function runCli(main: () => Promise<void>): Promise<void> {
  try {
    await main();
    Deno.exit(0);
  } catch (e) {
    const debug = Deno.env.get("ENGINE_DEBUG") === "1";
    console.error(`error: ${debug ? (e as Error).stack : (e as Error).message}`);
    Deno.exit(1);
  }
}

/**
 * Parses a number flag.
 * @param name Flag name (for the error).
 * @param value Raw value.
 * @param fallback Default.
 * @returns The number.
 */
export function num(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new TypeError(`--${name} must be a number, got "${value}"`);
  return n;
}
