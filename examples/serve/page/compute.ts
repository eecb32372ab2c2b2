/**
 * Where the page's work runs: the server (Deno's WebGPU, through the API) or this tab (the
 * browser's WebGPU, `tab.ts`). Both keep one journal, the server's.
 * @module
 */
import type { ComputeMode, EditBody, EditLine, EditResult, EntryInfo } from "../protocol.ts";
import * as api from "./api.ts";

/** The operations the page offers, wherever they run. */
export interface Compute {
  /** Where. */
  readonly mode: ComputeMode;
  /** Greedy continuation of a prompt. */
  ask(prompt: string): Promise<string>;
  /**
   * Edits the body's facts at once; the entry joins the journal, applied.
   * @param onLine Progress.
   */
  edit(
    body: EditBody,
    onLine: (line: EditLine) => void,
  ): Promise<{ entry: EntryInfo; result: EditResult }>;
  /** Reverts or re-applies a journal entry. */
  setApplied(id: string, applied: boolean): Promise<EntryInfo>;
}

/** The server computes. */
export const serverCompute: Compute = {
  mode: "server",
  ask: api.ask,
  edit: api.edit,
  setApplied: api.setApplied,
};
