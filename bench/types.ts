// A benchmark yields result rows; the runner prints them as a table or as JSON lines.
import type { Backend } from "../engine/backend.ts";

/** One measured result, printed as one JSON line with --json. */
export type BenchRow = Record<string, string | number | boolean | null>;

/** Options every benchmark receives. */
export interface BenchContext {
  /** Smaller sizes / fewer reps (CI smoke runs). */
  quick: boolean;
  /**
   * Also run the peer implementations (tfjs-webgpu). False skips them, e.g. on a machine
   * without their npm packages cached.
   */
  peers: boolean;
  /** Where this engine runs (`--backend`). */
  backend: Backend;
  /** The trained world runs the editing benchmarks measure (`--runs`, default runs/demo). */
  runs: string;
  /** Set by Ctrl-C: finish the current measurement, then return. */
  stop: { readonly requested: boolean };
  /** Called with each row as soon as it is measured. */
  emit: (row: BenchRow) => void;
  /** Progress messages (stderr). */
  log: (message: string) => void;
}

/** A named benchmark. */
export interface Bench {
  /** Name used on the command line. */
  name: string;
  /** One line for --help. */
  description: string;
  /** Runs only when named on the command line (long runs, e.g. GPT-2-sized models). */
  onlyWhenNamed?: boolean;
  /** Runs it. */
  run: (ctx: BenchContext) => Promise<void>;
}
