/**
 * The web app's journal, a thin adapter over `malmen/editors/journal.ts`: each edit is one
 * journal entry file (`<id>.safetensors`, readable by `deno task generate --journal` and `deno
 * task edit --apply`), its scores (`<id>.json`), and `index.json` listing the entries in order
 * with which are applied. Every file is written atomically and the index last, so a crash leaves
 * at worst an unlisted file. The app calls only this class, so another journal can replace it.
 * Not safe for concurrent callers: the session serialises them.
 * @module
 */
import { writeJsonAtomic } from "../../engine/io/atomic.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { readJournalEntry, writeJournalEntry } from "../../malmen/editors/journal.ts";
import type { ComputeMode, EditResult, EntryInfo } from "./protocol.ts";
import type { Shifts } from "./workbench.ts";

const INDEX = "index.json";
const FACTS_LISTED = 4;

/** The entries of one journal folder. */
export class JournalStore {
  /** The folder. */
  readonly dir: string;
  readonly #entries: EntryInfo[];

  private constructor(dir: string, entries: EntryInfo[]) {
    this.dir = dir;
    this.#entries = entries;
  }

  /**
   * Opens a journal folder (created on the first entry).
   * @throws {TypeError} When `index.json` exists but is not a journal index.
   */
  static async open(dir: string): Promise<JournalStore> {
    let text: string;
    try {
      text = await Deno.readTextFile(`${dir}/${INDEX}`);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) return new JournalStore(dir, []);
      throw e;
    }
    let index: { entries?: unknown };
    try {
      index = JSON.parse(text);
    } catch {
      throw new TypeError(`${dir}/${INDEX}: invalid JSON`);
    }
    if (!Array.isArray(index.entries)) {
      throw new TypeError(`${dir}/${INDEX}: field "entries" must be an array`);
    }
    return new JournalStore(dir, index.entries as EntryInfo[]);
  }

  /** The entries, oldest first (copies). */
  list(): EntryInfo[] {
    return this.#entries.map((e) => ({ ...e }));
  }

  /**
   * The entry file of `id` (a journal entry of `malmen/editors/journal.ts`).
   * @throws {RangeError} For an unknown id.
   */
  entryPath(id: string): string {
    return `${this.dir}/${this.#find(id).id}.safetensors`;
  }

  /** The scores an entry was made with. */
  async result(id: string): Promise<EditResult> {
    return JSON.parse(await Deno.readTextFile(`${this.dir}/${this.#find(id).id}.json`));
  }

  /**
   * Reads an entry's shifts onto the model's backend.
   * @returns Layer → ΔW (the caller owns them).
   */
  async read(id: string, model: GPT): Promise<Shifts> {
    return (await readJournalEntry(this.entryPath(id), model)).shifts;
  }

  /**
   * Appends an entry: its shifts, its scores, then the index.
   * @param computedIn Where the edit was computed.
   * @returns The new entry.
   */
  async add(
    shifts: Shifts,
    result: EditResult,
    computedIn: ComputeMode,
    applied: boolean,
  ): Promise<EntryInfo> {
    const id = String(this.#entries.reduce((n, e) => Math.max(n, Number(e.id) || 0), 0) + 1);
    const entry: EntryInfo = {
      id,
      editor: result.editor,
      m: result.m,
      created: new Date().toISOString(),
      computedIn,
      applied,
      summary: result.summary,
      facts: result.facts.slice(0, FACTS_LISTED).map((f) => `${f.subject} → ${f.target}`),
    };
    await writeJournalEntry(`${this.dir}/${id}.safetensors`, shifts, {
      editor: result.editor,
      m: result.m,
      created: entry.created,
      computed_in: computedIn,
    });
    await writeJsonAtomic(`${this.dir}/${id}.json`, result, { indent: 0 });
    await this.#save([...this.#entries, entry]);
    return { ...entry };
  }

  /**
   * Marks an entry applied or reverted.
   * @returns The entry.
   * @throws {RangeError} For an unknown id.
   */
  async setApplied(id: string, applied: boolean): Promise<EntryInfo> {
    const entry = this.#find(id);
    await this.#save(this.#entries.map((e) => e === entry ? { ...e, applied } : e));
    return { ...this.#find(id) };
  }

  #find(id: string): EntryInfo {
    const entry = this.#entries.find((e) => e.id === id);
    if (entry === undefined) throw new RangeError(`No journal entry "${id}"`);
    return entry;
  }

  // The index on disk first, then in memory: a failed write changes neither.
  async #save(entries: EntryInfo[]): Promise<void> {
    await writeJsonAtomic(`${this.dir}/${INDEX}`, { version: 1, entries });
    this.#entries.splice(0, this.#entries.length, ...entries);
  }
}
