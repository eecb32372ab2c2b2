/**
 * The pieces of the browser check that `deno task browser-check` and the browser tests share:
 * the engine probe run in the page against Deno's float64 reference, and the choice of a prompt
 * whose answer an edit visibly changes.
 * @module
 */
import { CPU } from "../../engine/backend.ts";
import type { EditRecord } from "../../malmen/data/edit_record.ts";
import { PROBE_SCRIPT } from "../serve/bundle.ts";
import type { CdpPage } from "./cdp.ts";
import { engineProbe, probeErrors, type ProbeValues } from "./engine_probe.ts";

/** Largest relative error of float32 in the page against float64 in Deno (MALMEN's solve included). */
export const FLOAT32_TOLERANCE = 1e-4;

/** What the engine probe found in the page. */
export interface PageProbe {
  /** The page's WebGPU adapter. */
  adapter: string;
  /** Relative error per probed value. */
  errors: Record<string, number>;
  /** Whether every error is within {@linkcode FLOAT32_TOLERANCE}. */
  ok: boolean;
}

/**
 * Runs the engine probe (ops, a GPT forward, a MALMEN edit) in the page, served as the app's
 * bundle, and compares it with the same probe on Deno's float64 CPU backend.
 * @throws {Error} With the page's message when the page has no WebGPU or the probe fails.
 */
export async function probeInPage(page: CdpPage): Promise<PageProbe> {
  const inPage = await page.evaluate<{ adapter: string; values: ProbeValues }>(
    `import("/bundle/${PROBE_SCRIPT}").then((m) => m.browserProbe())`,
  );
  const errors = probeErrors(inPage.values, await engineProbe(CPU));
  const ok = Object.values(errors).every((e) => e <= FLOAT32_TOLERANCE);
  return { adapter: inPage.adapter, errors, ok };
}

/**
 * The first fact whose prompt the model does not already continue with the fact's new target
 * (else the first): an edit of these facts then shows in its answer.
 * @param ask The model's greedy continuation (longer than the targets).
 */
export async function promptToWatch(
  facts: readonly EditRecord[],
  ask: (prompt: string) => Promise<string>,
): Promise<string> {
  for (const f of facts) {
    if (!(await ask(f.prompt)).trim().startsWith(f.target_new)) return f.prompt;
  }
  return facts[0].prompt;
}
