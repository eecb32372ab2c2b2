/**
 * The edit journal of a run folder: an append-only log. Each batch edit is its own entry — a
 * shifts file `entries/<id>.safetensors` — committed by an event `log/<seq>.json` that records
 * its id, time, the hash of the edited records, the LM identity and the hash of the entry file.
 * Later events re-apply (`apply`) or revert (`revert`) an entry; what is applied now is the
 * replay of the events. Every file is written once (created atomically, never replaced), so a
 * killed writer leaves either a complete event or none; an entry file without its event was never
 * committed and is removed by the next writer, with leftover temporary files. One writer at a
 * time: `open({ write: true })` takes the folder's lock.
 * @module
 */
import { removeStaleTemps, writeJsonAtomic } from "../../engine/io/atomic.ts";
import { type DirLock, lockDir } from "../../engine/io/lock.ts";
import { isNotFound, platform } from "../../engine/platform/mod.ts";
import { addInto } from "../../engine/ops/elementwise.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import type { Tensor } from "../../engine/tensor.ts";
import { type Hash, sha256 } from "../lm/identity.ts";
import { type JournalReadOptions, readJournalEntry, writeJournalEntry } from "./journal.ts";

/** What an edit records about itself. */
export interface EditInfo {
  /** Editor that computed the shifts. */
  editor: string;
  /** Facts edited. */
  m: number;
  /** Hash of the edited records (`dataHash` of the records). */
  records: Hash;
  /** Identity of the LM the shifts were computed on, or null when unknown. */
  lm: Hash | null;
  /** Where the records came from (a file path), for people. */
  input: string;
}

/** One committed entry. */
export interface JournalEntryInfo extends EditInfo {
  /** Entry id (1, 2, …). */
  id: number;
  /** ISO time of the edit. */
  time: string;
  /** Hash of the entry file, checked when it is read. */
  sha256: Hash;
}

/** One event of the log. */
export interface JournalEvent {
  /** Position in the log (1, 2, …). */
  seq: number;
  /** `edit` commits a new entry (applied); `apply` and `revert` switch an entry on and off. */
  op: "edit" | "apply" | "revert";
  /** The entry. */
  entry: number;
  /** ISO time. */
  time: string;
}

const pad = (n: number): string => String(n).padStart(6, "0");

/** An edit journal (see the module documentation). */
export class Journal {
  /** The run folder. */
  readonly dir: string;
  #lock: DirLock | null;
  #entries = new Map<number, JournalEntryInfo>();
  #events: JournalEvent[] = [];
  #active: number[] = [];

  private constructor(dir: string, lock: DirLock | null) {
    this.dir = dir;
    this.#lock = lock;
  }

  /**
   * Opens (or, for writing, creates) the journal of a folder and replays its log.
   * @param dir The run folder.
   * @param options `write` takes the folder's lock (a second writer fails with a clear error),
   *   removes leftovers of killed writers, and allows appending.
   * @throws {LockedError} When another process writes the folder.
   * @throws {Error} On a damaged log, naming the file.
   */
  static async open(dir: string, options: { write?: boolean } = {}): Promise<Journal> {
    const lock = options.write ? await lockDir(dir, "editing") : null;
    const journal = new Journal(dir, lock);
    try {
      await journal.#replay();
      if (lock !== null) {
        await removeStaleTemps(dir);
        await journal.#removeUncommitted();
      }
      return journal;
    } catch (e) {
      await lock?.release();
      throw e;
    }
  }

  /** Committed entries, by id. */
  get entries(): readonly JournalEntryInfo[] {
    return [...this.#entries.values()];
  }

  /** The events so far. */
  get events(): readonly JournalEvent[] {
    return this.#events;
  }

  /** Ids of the entries applied now, in the order they were (last) applied. */
  get active(): readonly number[] {
    return this.#active;
  }

  /**
   * Path of an entry's shifts file.
   * @param id Entry id.
   */
  entryPath(id: number): string {
    return `${this.dir}/entries/${pad(id)}.safetensors`;
  }

  /**
   * A committed entry.
   * @param id Entry id.
   * @throws {RangeError} Naming the id and the ids there are.
   */
  entry(id: number): JournalEntryInfo {
    const e = this.#entries.get(id);
    if (e === undefined) {
      const have = [...this.#entries.keys()];
      throw new RangeError(
        `The journal in "${this.dir}" has no entry ${id} (${
          have.length === 0 ? "it has none" : `entries: ${have.join(", ")}`
        })`,
      );
    }
    return e;
  }

  /**
   * Commits a new edit as the next entry, applied.
   * @param shifts Layer → ΔW (finite; not disposed).
   * @param info What the edit records.
   * @returns The entry.
   */
  async addEdit(shifts: ReadonlyMap<number, Tensor>, info: EditInfo): Promise<JournalEntryInfo> {
    this.#requireWriter();
    const id = Math.max(0, ...this.#entries.keys()) + 1;
    const time = new Date().toISOString();
    const path = this.entryPath(id);
    await writeJournalEntry(
      path,
      shifts,
      { ...info, lm: info.lm ?? "", id, created: time },
      { createNew: true },
    );
    try {
      const entry = { ...info, id, time, sha256: await sha256(await platform().readFile(path)) };
      await this.#append({ op: "edit", entry: id, time, ...entryFields(entry) });
      return entry;
    } catch (e) {
      // Not committed (e.g. the disk filled up): the entry file goes too.
      await platform().remove(path).catch(() => {});
      throw e;
    }
  }

  /**
   * Applies a reverted entry again.
   * @param id Entry id.
   * @throws {RangeError} When it is unknown or already applied.
   */
  async apply(id: number): Promise<void> {
    this.#requireWriter();
    this.entry(id);
    if (this.#active.includes(id)) {
      throw new RangeError(`Entry ${id} of "${this.dir}" is already applied`);
    }
    await this.#append({ op: "apply", entry: id, time: new Date().toISOString() });
  }

  /**
   * Reverts an applied entry (its file stays: it can be applied again).
   * @param id Entry id.
   * @throws {RangeError} When it is unknown or not applied.
   */
  async revert(id: number): Promise<void> {
    this.#requireWriter();
    this.entry(id);
    if (!this.#active.includes(id)) {
      throw new RangeError(`Entry ${id} of "${this.dir}" is not applied, so it cannot be reverted`);
    }
    await this.#append({ op: "revert", entry: id, time: new Date().toISOString() });
  }

  /**
   * Reads an entry's shifts onto a model, after checking the file against the hash its event
   * recorded.
   * @param id Entry id.
   * @param model The LM (the one the entry was made for, unless `options.force`).
   * @param options `force`, `allowNonFinite`.
   */
  async readShifts(
    id: number,
    model: GPT,
    options: JournalReadOptions = {},
  ): Promise<Map<number, Tensor>> {
    const entry = this.entry(id);
    const path = this.entryPath(id);
    const hash = await sha256(await platform().readFile(path));
    if (hash !== entry.sha256) {
      throw new Error(
        `"${path}" was changed after it was journaled (its hash differs from the log's)`,
      );
    }
    return (await readJournalEntry(path, model, options)).shifts;
  }

  /**
   * The sum of the applied entries' shifts per layer (empty when none is applied).
   * @param model The LM.
   * @param options `force`, `allowNonFinite`.
   */
  async activeShifts(model: GPT, options: JournalReadOptions = {}): Promise<Map<number, Tensor>> {
    const total = new Map<number, Tensor>();
    for (const id of this.#active) {
      for (const [layer, t] of await this.readShifts(id, model, options)) {
        const sum = total.get(layer);
        if (sum === undefined) total.set(layer, t);
        else {
          addInto(sum, t);
          t.dispose();
        }
      }
    }
    return total;
  }

  /** Releases the lock (a writer); reading stays possible. */
  async close(): Promise<void> {
    await this.#lock?.release();
    this.#lock = null;
  }

  #requireWriter(): void {
    if (this.#lock === null) {
      throw new Error(`The journal in "${this.dir}" was opened for reading only`);
    }
  }

  async #append(event: Omit<JournalEvent, "seq"> & Record<string, unknown>): Promise<void> {
    const seq = this.#events.length + 1;
    const record = { seq, ...event };
    await writeJsonAtomic(`${this.dir}/log/${pad(seq)}.json`, record, { createNew: true });
    this.#apply(record as JournalEvent & Record<string, unknown>, "");
  }

  async #replay(): Promise<void> {
    const names = (await listDir(`${this.dir}/log`)).filter((n) => /^\d{6}\.json$/.test(n));
    names.sort();
    for (const [i, name] of names.entries()) {
      const path = `${this.dir}/log/${name}`;
      let event: JournalEvent & Record<string, unknown>;
      try {
        event = JSON.parse(await platform().readTextFile(path));
      } catch (e) {
        throw new Error(`The journal log "${path}" cannot be read: ${(e as Error).message}`);
      }
      if (event.seq !== i + 1 || Number(name.slice(0, 6)) !== i + 1) {
        throw new Error(`The journal log of "${this.dir}" is not contiguous at "${path}"`);
      }
      this.#apply(event, path);
    }
  }

  // Folds one event into the state; `path` names a logged event for errors ("" for a new one).
  #apply(event: JournalEvent & Record<string, unknown>, path: string): void {
    const where = path === "" ? `the journal of "${this.dir}"` : `"${path}"`;
    if (event.op === "edit") {
      if (this.#entries.has(event.entry)) throw new Error(`${where}: entry ${event.entry} twice`);
      this.#entries.set(event.entry, {
        id: event.entry,
        time: event.time,
        editor: String(event.editor),
        m: Number(event.m),
        records: String(event.records),
        lm: event.lm ? String(event.lm) : null,
        input: String(event.input),
        sha256: String(event.sha256),
      });
      this.#active.push(event.entry);
    } else if (event.op === "apply" || event.op === "revert") {
      if (!this.#entries.has(event.entry)) {
        throw new Error(`${where}: ${event.op} of unknown entry ${event.entry}`);
      }
      this.#active = this.#active.filter((id) => id !== event.entry);
      if (event.op === "apply") this.#active.push(event.entry);
    } else {
      throw new Error(`${where}: unknown operation ${JSON.stringify(event.op)}`);
    }
    this.#events.push({ seq: event.seq, op: event.op, entry: event.entry, time: event.time });
  }

  // An entry file whose edit event was never written (the writer was killed in between).
  async #removeUncommitted(): Promise<void> {
    for (const name of await listDir(`${this.dir}/entries`)) {
      const m = /^(\d{6})\.safetensors$/.exec(name);
      if (m !== null && !this.#entries.has(Number(m[1]))) {
        await platform().remove(`${this.dir}/entries/${name}`);
      }
    }
  }
}

function entryFields(e: JournalEntryInfo): Record<string, unknown> {
  return {
    editor: e.editor,
    m: e.m,
    records: e.records,
    lm: e.lm,
    input: e.input,
    sha256: e.sha256,
  };
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await platform().listDir(dir)).filter((e) => e.isFile).map((e) => e.name);
  } catch (e) {
    if (isNotFound(e)) return [];
    throw new Error(`Cannot read "${dir}": ${(e as Error).message}`);
  }
}
