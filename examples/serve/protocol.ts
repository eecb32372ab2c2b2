/**
 * The web app's messages, shared by the server, the page and the tab's compute: JSON bodies of
 * the `/api/…` routes and the lines of an edit's progress stream.
 * @module
 */
import type { EditRecord } from "../../malmen/data/edit_record.ts";

/** The steps of an edit, in order (progress lines carry their index). */
export const EDIT_PHASES: readonly string[] = [
  "reading the model's answers",
  "editing and scoring",
  "reading the new answers",
  "saving the journal entry",
];

/** A fact typed into the page (the true answer is what the model says before the edit). */
export interface FactInput {
  /** The entity, as it appears in the prompt. */
  subject: string;
  /** The prompt; the answer follows it after one space. */
  prompt: string;
  /** The new answer. */
  target: string;
  /** A rephrasing with the same answer (scores GS; default: the prompt). */
  paraphrase?: string;
  /** A prompt the edit must leave alone (scores LS; without it the fact has no LS). */
  unrelated?: string;
}

/** One fact's scores before → after (each in [0, 1]). */
export interface FactOutcome {
  /** Subject. */
  subject: string;
  /** Edit prompt. */
  prompt: string;
  /** New target. */
  target: string;
  /** Greedy answer before the edit (null beyond the first facts shown). */
  before: string | null;
  /** Greedy answer after the edit. */
  after: string | null;
  /** Edit success before, after. */
  es: [number, number];
  /** Generalisation before, after. */
  gs: [number, number];
  /** Locality before, after; null when the fact has no unrelated prompt. */
  ls: [number, number] | null;
}

/** Mean scores before → after. */
export interface BeforeAfter {
  /** Before the edit. */
  before: number;
  /** After it. */
  after: number;
}

/** What one edit did. */
export interface EditResult {
  /** Editor name. */
  editor: string;
  /** Facts edited. */
  m: number;
  /** Seconds to compute the shifts. */
  seconds: number;
  /** ES, GS, LS means; LS over the `lsFacts` facts that have an unrelated prompt. */
  summary: { es: BeforeAfter; gs: BeforeAfter; ls: BeforeAfter; lsFacts: number };
  /** Per fact, in edit order. */
  facts: FactOutcome[];
}

/** Where an edit was computed. */
export type ComputeMode = "server" | "tab";

/**
 * A journal entry as the page lists it. The journal is the append-only one of `deno task edit`
 * (`malmen/editors/journal_log.ts`), so entries the CLI made are listed too.
 */
export interface EntryInfo {
  /** Entry id (1, 2, …, as `deno task edit --apply ID` names it). */
  id: string;
  /** Editor that computed it. */
  editor: string;
  /** Facts edited. */
  m: number;
  /** ISO time of creation. */
  created: string;
  /** Where it was computed: on the server, in a tab, or by `deno task edit`. */
  computedIn: ComputeMode | "cli";
  /** Whether the journal has it applied. */
  applied: boolean;
  /** Its scores when it was made (null when the journal holds no report of it). */
  summary: EditResult["summary"] | null;
  /** The first few facts, `subject → target` (`prompt → target` for the CLI's). */
  facts: string[];
  /** Identity of the LM it was computed on (12 hex digits; null when unknown). */
  lm: string | null;
  /** The records file it was made from (for `deno task edit --apply ID`). */
  input: string;
}

/** `GET /api/info`: the model, the editors and the journal. */
export interface ServeInfo {
  /** The LM run, as the tab fetches it (`files/lm`). */
  lm: { path: string; step: number; layers: number; dModel: number; vocab: number };
  /** Editors this server can run, in the registry's order: `ft` always, the others when their
   * folders exist. */
  editors: string[];
  /** Editor folders as the tab fetches them (`files/editors/malmen`). */
  editorPaths: Record<string, string>;
  /** The server's WebGPU adapter (or "cpu"). */
  backend: string;
  /** The journal, oldest first. */
  journal: EntryInfo[];
}

/** `POST /api/edit`. */
export interface EditBody {
  /** One of the server's editors (`ServeInfo.editors`). */
  editor: string;
  /** Uploaded records (CounterFact field names). */
  records: EditRecord[];
  /** Facts typed into the page. */
  facts: FactInput[];
}

/** One line of the `POST /api/edit` stream: progress, then the entry or an error. */
export type EditLine =
  | { phase: number }
  | { waiting: true }
  | { entry: EntryInfo; result: EditResult }
  | { error: string };
