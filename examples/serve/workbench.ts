/**
 * The editing workbench behind the web app, the same code on the server (Deno's WebGPU) and in
 * the tab (the browser's): ask the model, edit many facts at once with an editor and score each
 * before → after, and keep the model's shift equal to the sum of the applied journal entries.
 * Every edit is computed and scored on the unedited model, as `deno task edit` does; applied
 * entries then add up. It knows nothing of HTTP or files (editors come from a loader).
 * @module
 */
import { add } from "../../engine/ops/elementwise.ts";
import { noGrad } from "../../engine/autograd.ts";
import { clone } from "../../engine/ops/copy.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { generate } from "../../engine/models/gpt/generate.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import type { Tokenizer } from "../../engine/models/tokenizer/tokenizer.ts";
import { counterFactRecord } from "../../malmen/data/counterfact.ts";
import type { EditRecord } from "../../malmen/data/edit_record.ts";
import type { Editor, EditorName } from "../../malmen/editors/editor.ts";
import { applyShifts, revertShifts } from "../../malmen/editors/journal.ts";
import { editAndScore } from "../../malmen/eval/edit_and_score.ts";
import { type EditReport, editReport } from "../../malmen/eval/report.ts";
import { toRequests } from "../../malmen/eval/requests.ts";
import { EDITORS, type OpenedEditor, openEditor } from "../../malmen/workflows/editors.ts";
import type { EditResult, FactInput, FactOutcome } from "./protocol.ts";

/** Facts whose greedy answers are shown before → after (the rest are scored only). */
export const SHOWN_ANSWERS = 16;

/** Reports an edit's progress: the phase's index in `EDIT_PHASES` (protocol.ts). */
export type PhaseListener = (phase: number) => void;

/** Layer → ΔW of one journal entry. */
export type Shifts = Map<number, Tensor>;

/** One edit's outcome, as the journal records it. */
export interface WorkbenchEdit {
  /** The page's view: each fact before → after. */
  result: EditResult;
  /** The new shifts (the caller owns them). */
  shifts: Shifts;
  /** The records edited: the uploaded ones, then the page's facts as records. */
  records: EditRecord[];
  /** The report `deno task edit` writes for the same edit. */
  report: EditReport;
}

/** A journal entry as a workbench follows it. */
export interface FollowedEntry {
  /** Entry id. */
  id: string;
  /** Whether the journal has it applied. */
  applied: boolean;
}

/** A model with its tokenizer, its applied entries and the edit operations. */
export class Workbench {
  /** The model (its shifts are the applied entries' sum). */
  readonly model: GPT;
  /** Its tokenizer. */
  readonly tokenizer: Tokenizer;
  readonly #entries = new Map<string, Shifts>();
  readonly #applied = new Set<string>();
  #sum: Shifts = new Map();

  /** Wraps a loaded model; nothing is applied. */
  constructor(model: GPT, tokenizer: Tokenizer) {
    this.model = model;
    this.tokenizer = tokenizer;
  }

  /**
   * Greedy continuation of a prompt on the model as it is (applied entries included).
   * @param tokens Tokens to generate (1–64).
   * @returns The continuation text.
   * @throws {RangeError} For an empty prompt or a token count out of range.
   */
  async ask(prompt: string, tokens = 8): Promise<string> {
    if (prompt.trim() === "") throw new RangeError("The prompt is empty");
    if (!Number.isInteger(tokens) || tokens < 1 || tokens > 64) {
      throw new RangeError(`tokens must be an integer in 1..64, got ${tokens}`);
    }
    const ids = await generate(this.model, this.tokenizer.encode(prompt), { maxNewTokens: tokens });
    return this.tokenizer.decode(ids);
  }

  /**
   * Edits `records` and the page's `facts` at once with `editor`, on the unedited model, and
   * scores them before → after. The new shifts are returned, not applied (see {@linkcode
   * Workbench.addEntry}); the model is left with the applied entries, as before.
   * @param onPhase Progress (phases 0–2 of `EDIT_PHASES`).
   * @returns The scores, the new shifts (the caller owns them), the records and the report.
   * @throws {TypeError} Naming the fact and field of a bad fact; {RangeError} when a fact does
   *   not fit the model's context or there is nothing to edit.
   */
  async edit(
    editor: Editor,
    records: readonly EditRecord[],
    facts: readonly FactInput[],
    onPhase: PhaseListener = () => {},
  ): Promise<WorkbenchEdit> {
    const checked = facts.map((f, i) => checkFact(f, i));
    if (records.length + facts.length === 0) throw new RangeError("There are no facts to edit");
    onPhase(0);
    revertShifts(this.model);
    try {
      const all = [...records, ...(await this.#factRecords(checked, records.length))];
      const probes = all.map((_, i) => i < records.length || checked[i - records.length].unrelated);
      const requests = toRequests(this.tokenizer, all, this.model.config.nCtx);
      const shown = all.slice(0, SHOWN_ANSWERS);
      const before = await this.#answers(shown);
      onPhase(1);
      const outcome = await editAndScore(this.model, editor, requests);
      onPhase(2);
      const after = await this.#answers(shown);
      const { perRequest: a, perRequestBefore: b } = outcome;
      const outcomes: FactOutcome[] = all.map((r, i) => ({
        subject: r.subject,
        prompt: r.prompt,
        target: r.target_new,
        before: before[i] ?? null,
        after: after[i] ?? null,
        es: [b.es[i], a.es[i]],
        gs: [b.gs[i], a.gs[i]],
        ls: probes[i] ? [b.ls[i], a.ls[i]] : null,
      }));
      const result: EditResult = {
        editor: outcome.editor,
        m: outcome.m,
        seconds: outcome.seconds,
        summary: summarizeFacts(outcomes),
        facts: outcomes,
      };
      return {
        result,
        shifts: outcome.shifts,
        records: all,
        report: editReport(outcome, requests),
      };
    } finally {
      this.#refresh();
    }
  }

  /**
   * Takes over an entry's shifts (the workbench disposes them).
   * @param applied Whether it is applied now.
   */
  addEntry(id: string, shifts: Shifts, applied: boolean): void {
    this.#dropEntry(id);
    this.#entries.set(id, shifts);
    if (applied) this.#applied.add(id);
    this.#refresh();
  }

  /**
   * Applies exactly the entries a journal has applied, reading the shifts of those not held yet.
   * @param entries The journal's entries.
   * @param read Reads an entry's shifts onto the model's backend.
   */
  async follow(
    entries: readonly FollowedEntry[],
    read: (id: string) => Promise<Shifts>,
  ): Promise<void> {
    for (const e of entries) {
      if (this.hasEntry(e.id)) {
        if (this.#applied.has(e.id) !== e.applied) this.setApplied(e.id, e.applied);
      } else if (e.applied) this.addEntry(e.id, await read(e.id), true);
    }
  }

  /** Whether the entry's shifts are held (applied or not). */
  hasEntry(id: string): boolean {
    return this.#entries.has(id);
  }

  /** The ids of the applied entries. */
  applied(): string[] {
    return [...this.#applied];
  }

  /**
   * Applies or reverts a held entry.
   * @throws {RangeError} When the entry's shifts are not held.
   */
  setApplied(id: string, applied: boolean): void {
    if (!this.#entries.has(id)) throw new RangeError(`Journal entry "${id}" is not loaded`);
    if (applied) this.#applied.add(id);
    else this.#applied.delete(id);
    this.#refresh();
  }

  /** Releases the entries' shifts (not the model). */
  dispose(): void {
    for (const id of [...this.#entries.keys()]) this.#dropEntry(id);
    this.#refresh();
  }

  #dropEntry(id: string): void {
    for (const t of this.#entries.get(id)?.values() ?? []) t.dispose();
    this.#entries.delete(id);
    this.#applied.delete(id);
  }

  // The model computes with the sum of the applied entries (its own copy), or with none.
  #refresh(): void {
    revertShifts(this.model);
    for (const t of this.#sum.values()) t.dispose();
    const sum: Shifts = new Map();
    for (const id of this.#applied) {
      for (const [layer, t] of this.#entries.get(id)!) {
        const have = sum.get(layer);
        sum.set(layer, noGrad(() => have === undefined ? clone(t) : add(have, t)));
        have?.dispose();
      }
    }
    this.#sum = sum;
    applyShifts(this.model, sum);
  }

  // Greedy answers as long as each new target, so before and after compare like with like.
  async #answers(records: readonly EditRecord[]): Promise<string[]> {
    const out: string[] = [];
    for (const r of records) {
      const length = Math.min(8, this.tokenizer.encode(` ${r.target_new}`).length);
      out.push((await this.ask(r.prompt, Math.max(1, length))).trim());
    }
    return out;
  }

  // The page's facts as records: the true answer is what the model says now, and so is the
  // unrelated prompt's answer (locality then means "keeps answering as before").
  async #factRecords(facts: readonly CheckedFact[], first: number): Promise<EditRecord[]> {
    const out: EditRecord[] = [];
    for (const [i, f] of facts.entries()) {
      const [truth] = await this.#answers([
        { prompt: f.prompt, target_new: f.target } as EditRecord,
      ]);
      const unrelated = f.unrelated ? (await this.ask(f.unrelated, 2)).trim() : truth;
      out.push({
        case_id: first + i,
        prompt: f.prompt,
        subject: f.subject,
        ground_truth: truth || "?",
        target_new: f.target,
        rephrase_prompt: f.paraphrase || f.prompt,
        locality_prompt: f.unrelated || f.prompt,
        locality_ground_truth: unrelated || "?",
      });
    }
    return out;
  }
}

/** A page fact with its optional fields resolved. */
interface CheckedFact {
  subject: string;
  prompt: string;
  target: string;
  paraphrase: string;
  unrelated: string;
}

// The same field rules (and messages) as a CounterFact file's records, named "facts".
function checkFact(fact: FactInput, index: number): CheckedFact {
  const raw = {
    case_id: index,
    subject: fact.subject,
    prompt: fact.prompt,
    target_new: fact.target,
    ground_truth: "-",
    rephrase_prompt: fact.paraphrase?.trim() || fact.prompt,
    locality_prompt: fact.unrelated?.trim() || fact.prompt,
    locality_ground_truth: "-",
  };
  const r = counterFactRecord(raw, "facts", index);
  return {
    subject: r.subject,
    prompt: r.prompt,
    target: r.target_new,
    paraphrase: fact.paraphrase?.trim() ?? "",
    unrelated: fact.unrelated?.trim() ?? "",
  };
}

/**
 * ES, GS and LS before → after over the facts (LS over those with an unrelated probe).
 * @returns The means, and how many facts LS covers.
 */
export function summarizeFacts(facts: readonly FactOutcome[]): EditResult["summary"] {
  const mean = (xs: number[]): number => xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
  const pair = (pick: (f: FactOutcome) => [number, number] | null) => {
    const values = facts.map(pick).filter((p) => p !== null) as [number, number][];
    return { before: mean(values.map((v) => v[0])), after: mean(values.map((v) => v[1])) };
  };
  return {
    es: pair((f) => f.es),
    gs: pair((f) => f.gs),
    ls: pair((f) => f.ls),
    lsFacts: facts.filter((f) => f.ls !== null).length,
  };
}

/**
 * The editors by name, each opened once through the registry the CLIs use
 * (`malmen/workflows/editors.ts`): MALMEN and MEND from their run folders (at the checkpoint
 * chosen on the validation split, as `deno task edit` does), MEMIT from its folder (key
 * covariances and settings), fine-tuning with its defaults. Every editor the CLI has is offered
 * where what it needs is there.
 */
export class Editors {
  /** Folders of the editors that need one (paths or URLs the platform reads). */
  readonly dirs: Readonly<Record<string, string>>;
  readonly #model: GPT;
  readonly #open = new Map<string, Promise<OpenedEditor>>();

  /** Editors for `model`; nothing is loaded yet. */
  constructor(dirs: Readonly<Record<string, string>>, model: GPT) {
    this.dirs = dirs;
    this.#model = model;
  }

  /** The names available, in the registry's order: those that need nothing or have a folder. */
  names(): string[] {
    return EDITORS.filter((e) => e.needs === "none" || this.dirs[e.name] !== undefined)
      .map((e) => e.name);
  }

  /**
   * The editor `name`, opened on first use.
   * @throws {RangeError} For a name that is not available.
   */
  get(name: string): Promise<Editor> {
    if (!this.names().includes(name)) {
      return Promise.reject(
        new RangeError(`Unknown editor "${name}": this server has ${this.names().join(", ")}`),
      );
    }
    let editor = this.#open.get(name);
    if (editor === undefined) {
      editor = openEditor(name as EditorName, this.#model, { dir: this.dirs[name] });
      editor.catch(() => this.#open.delete(name));
      this.#open.set(name, editor);
    }
    return editor;
  }

  /** Releases what the editors opened so far hold (hyper-networks, covariances). */
  async dispose(): Promise<void> {
    for (const e of this.#open.values()) (await e.catch(() => null))?.dispose?.();
    this.#open.clear();
  }
}
