/**
 * The web app's journal: the append-only journal of `deno task edit` (`malmen/editors/
 * journal_log.ts`), so the app and the CLI can share one folder. Each edit is an entry
 * (`entries/<id>.safetensors`, committed by an event in `log/`) recording the editor, the hash of
 * the records, the LM identity and the records file (`inputs/<hash>.json`, which `deno task edit
 * --apply ID` scores on); its report goes to `reports/<seq>-edit-<id>.{json,md}` as the CLI's does,
 * with the page's per-fact view added under `web`. Every operation reads the journal afresh (the
 * CLI may have written since) and every write holds the folder's lock, the one `deno task edit`
 * takes, only while it writes.
 * @module
 */
import { writeFileAtomic, writeJsonAtomic } from "../../engine/io/atomic.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { isAlreadyExists, isNotFound, platform } from "../../engine/platform/mod.ts";
import type { EditRecord } from "../../malmen/data/edit_record.ts";
import { Journal, type JournalEntryInfo } from "../../malmen/editors/journal_log.ts";
import { type EditReport, markdownSummary } from "../../malmen/eval/report.ts";
import { dataHash, type Hash, shortHash } from "../../malmen/lm/identity.ts";
import type { ComputeMode, EditResult, EntryInfo } from "./protocol.ts";
import type { Shifts } from "./workbench.ts";

const FACTS_LISTED = 4;
const pad = (n: number): string => String(n).padStart(6, "0");

/** A report of the journal's `reports/` as the app reads it. */
type StoredReport = EditReport & { web?: { computedIn: ComputeMode; result: EditResult } };

/** What the app journals of one edit. */
export interface StoreEdit {
  /** Layer → ΔW (finite; not disposed). */
  shifts: Shifts;
  /** The records edited. */
  records: readonly EditRecord[];
  /** The page's per-fact view. */
  result: EditResult;
  /** The report `deno task edit` writes for it. */
  report: EditReport;
  /** Where it was computed. */
  computedIn: ComputeMode;
  /** Identity of the LM it was computed on. */
  lm: Hash | null;
}

/** The journal of one folder. */
export class JournalStore {
  /** The folder. */
  readonly dir: string;
  // Reports are written once, so what was read stays true.
  readonly #reports = new Map<number, StoredReport | null>();

  private constructor(dir: string) {
    this.dir = dir;
  }

  /**
   * Opens a journal folder (created on the first entry), reading its log once so that a damaged
   * one is reported at start.
   * @throws {Error} On a damaged log, naming the file.
   */
  static async open(dir: string): Promise<JournalStore> {
    await Journal.open(dir);
    return new JournalStore(dir);
  }

  /** The entries, oldest first, as the journal has them now. */
  async list(): Promise<EntryInfo[]> {
    const journal = await Journal.open(this.dir);
    return await Promise.all(journal.entries.map((e) => this.#info(journal, e)));
  }

  /**
   * The entry file of `id`.
   * @throws {RangeError} For an id that is not one of the journal's entries.
   */
  async entryPath(id: string): Promise<string> {
    const journal = await Journal.open(this.dir);
    return journal.entryPath(journal.entry(entryId(id)).id);
  }

  /**
   * Reads an entry's shifts onto the model's backend, checked as `deno task edit --apply` checks
   * them: the file's hash against the log's, the LM it was made for, finite values.
   * @returns Layer → ΔW (the caller owns them).
   */
  async read(id: string, model: GPT): Promise<Shifts> {
    return await (await Journal.open(this.dir)).readShifts(entryId(id), model);
  }

  /**
   * Journals an edit, applied: its records file, the entry, then its report.
   * @returns The new entry.
   * @throws {LockedError} When another process writes the folder.
   */
  async add(edit: StoreEdit): Promise<EntryInfo> {
    const records = await dataHash(edit.records);
    const input = `${this.dir}/inputs/${records.replace(/^sha256:/, "")}.json`;
    const journal = await Journal.open(this.dir, { write: true });
    try {
      // Named by the records' hash: the same records are one file, written once.
      await writeJsonAtomic(input, edit.records, { createNew: true }).catch((e) => {
        if (!isAlreadyExists(e)) throw e;
      });
      const { editor, m } = edit.result;
      const entry = await journal.addEdit(edit.shifts, { editor, m, records, lm: edit.lm, input });
      const event = journal.events.at(-1)!;
      const report: StoredReport = {
        ...edit.report,
        web: { computedIn: edit.computedIn, result: edit.result },
      };
      const path = this.#reportPath(event.seq, entry.id);
      await writeJsonAtomic(`${path}.json`, { entry, ...report }, { createNew: true });
      await writeFileAtomic(
        `${path}.md`,
        `# Edit report (journal entry ${entry.id}, edit)\n\n${markdownSummary([report])}\n`,
        { createNew: true },
      );
      this.#reports.set(entry.id, report);
      return await this.#info(journal, entry);
    } finally {
      await journal.close();
    }
  }

  /**
   * Re-applies (`applied` true) or reverts an entry, as `deno task edit --apply/--revert` do (a
   * re-apply here is not scored again).
   * @returns The entry.
   * @throws {RangeError} For an unknown id, or an entry already in that state.
   * @throws {LockedError} When another process writes the folder.
   */
  async setApplied(id: string, applied: boolean): Promise<EntryInfo> {
    const n = entryId(id);
    const journal = await Journal.open(this.dir, { write: true });
    try {
      await (applied ? journal.apply(n) : journal.revert(n));
      return await this.#info(journal, journal.entry(n));
    } finally {
      await journal.close();
    }
  }

  #reportPath(seq: number, id: number): string {
    return `${this.dir}/reports/${pad(seq)}-edit-${id}`;
  }

  async #info(journal: Journal, e: JournalEntryInfo): Promise<EntryInfo> {
    const seq = journal.events.find((v) => v.op === "edit" && v.entry === e.id)!.seq;
    const report = await this.#report(seq, e.id);
    const web = report?.web;
    return {
      id: String(e.id),
      editor: e.editor,
      m: e.m,
      created: e.time,
      computedIn: web?.computedIn ?? "cli",
      applied: journal.active.includes(e.id),
      summary: web?.result.summary ?? (report === null ? null : summaryOf(report)),
      facts: web
        ? web.result.facts.slice(0, FACTS_LISTED).map((f) => `${f.subject} → ${f.target}`)
        : (report?.requests ?? []).slice(0, FACTS_LISTED).map((r) =>
          `${r.prompt} → ${r.target_new}`
        ),
      lm: e.lm === null ? null : shortHash(e.lm),
      input: e.input,
    };
  }

  async #report(seq: number, id: number): Promise<StoredReport | null> {
    if (this.#reports.has(id)) return this.#reports.get(id)!;
    const path = `${this.#reportPath(seq, id)}.json`;
    let report: StoredReport | null = null;
    try {
      report = JSON.parse(await platform().readTextFile(path));
    } catch (e) {
      if (!isNotFound(e)) throw new Error(`Cannot read "${path}": ${(e as Error).message}`);
    }
    this.#reports.set(id, report);
    return report;
  }
}

// The page's summary from a CLI report: every request is scored for LS there.
function summaryOf(r: EditReport): EditResult["summary"] {
  const pair = (k: "es" | "gs" | "ls") => ({ before: r.before[k], after: r.after[k] });
  return { es: pair("es"), gs: pair("gs"), ls: pair("ls"), lsFacts: r.m - r.excluded };
}

/**
 * An entry id of a request.
 * @throws {RangeError} When it is not a positive integer.
 */
function entryId(id: string): number {
  if (!/^[1-9][0-9]{0,8}$/.test(id)) {
    throw new RangeError(`A journal entry id is a positive integer, got "${id}"`);
  }
  return Number(id);
}
