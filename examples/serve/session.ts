/**
 * The server's side of the web app: the LM on Deno's backend in a workbench, the editors, and
 * the journal. Everything that touches the model or the journal runs through one queue, so
 * concurrent requests (two edits, an ask during an edit, a revert) are served one at a time in
 * arrival order and never see a half-edited model. The journal may be shared with `deno task
 * edit`: before each operation the model is brought to exactly what the journal has applied.
 * @module
 */
import type { Backend } from "../../engine/backend.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { counterFactRecord } from "../../malmen/data/counterfact.ts";
import type { EditRecord } from "../../malmen/data/edit_record.ts";
import type { Hash } from "../../malmen/lm/identity.ts";
import { loadLmRun } from "../../malmen/lm/load.ts";
import { JournalStore, type StoreEdit } from "./journal_store.ts";
import type { EditBody, EditLine, EntryInfo, FactInput, ServeInfo } from "./protocol.ts";
import { decodeEdit } from "./transfer.ts";
import { Editors, Workbench } from "./workbench.ts";

/** What a session serves. */
export interface SessionOptions {
  /** The LM run folder. */
  lmDir: string;
  /** Folders of the editors that need one and exist (`malmen`, `mend`, `memit`). */
  editorDirs: Record<string, string>;
  /** The journal folder. */
  journalDir: string;
  /** Where the model computes. */
  backend: Backend;
}

/** The model, the editors and the journal behind one server. */
export class Session {
  /** What it serves. */
  readonly options: SessionOptions;
  /** The journal. */
  readonly store: JournalStore;
  readonly #bench: Workbench;
  readonly #step: number;
  readonly #identity: Hash;
  readonly #editors: Editors;
  #queue: Promise<unknown> = Promise.resolve();
  #queued = 0;

  private constructor(
    options: SessionOptions,
    bench: Workbench,
    store: JournalStore,
    lm: { step: number; identity: Hash },
  ) {
    this.options = options;
    this.#bench = bench;
    this.store = store;
    this.#step = lm.step;
    this.#identity = lm.identity;
    this.#editors = new Editors(options.editorDirs, bench.model);
  }

  /**
   * Loads the LM and the journal, with the applied entries applied.
   * @throws When the LM run or the journal cannot be read, or an applied entry was made for
   *   another LM.
   */
  static async open(options: SessionOptions): Promise<Session> {
    const { model, tokenizer, step, identity } = await loadLmRun(options.lmDir, options.backend);
    const bench = new Workbench(model, tokenizer);
    try {
      const store = await JournalStore.open(options.journalDir);
      await bench.follow(await store.list(), (id) => store.read(id, model));
      return new Session(options, bench, store, { step, identity });
    } catch (e) {
      bench.dispose();
      model.dispose();
      throw e;
    }
  }

  /** The model (its shifts are the applied entries' sum). */
  get model(): GPT {
    return this.#bench.model;
  }

  /** The editors this server runs. */
  editors(): string[] {
    return this.#editors.names();
  }

  /** The journal's entries as it has them now, oldest first. */
  journal(): Promise<EntryInfo[]> {
    return this.store.list();
  }

  /** The model, the editors and the journal, for `GET /api/info`. */
  async info(): Promise<ServeInfo> {
    const { config, backend } = this.#bench.model;
    return {
      lm: {
        path: "files/lm",
        step: this.#step,
        layers: config.nLayer,
        dModel: config.dModel,
        vocab: config.vocabSize,
      },
      editors: this.#editors.names(),
      editorPaths: Object.fromEntries(
        Object.keys(this.options.editorDirs).map((n) => [n, `files/editors/${n}`]),
      ),
      backend: backend.kind === "webgpu" ? backend.adapter : "cpu",
      journal: await this.store.list(),
    };
  }

  /** Greedy continuation of `prompt` (queued behind edits), with the journal's entries applied. */
  ask(prompt: string, tokens?: number): Promise<string> {
    return this.#serial(async () => {
      await this.#follow();
      return await this.#bench.ask(prompt, tokens);
    });
  }

  /**
   * Edits the body's records and facts at once, appends the entry to the journal and applies
   * it. Progress, then the entry (or the error), go to `send`.
   * @throws {TypeError} Before queueing, naming the record and field of a bad record or an
   *   unknown editor.
   */
  edit(body: EditBody, send: (line: EditLine) => void): Promise<void> {
    const { editor: name, records, facts } = checkBody(body, this.editors());
    if (this.#queued > 0) send({ waiting: true });
    return this.#serial(async () => {
      await this.#follow();
      const editor = await this.#editors.get(name);
      const edit = await this.#bench.edit(editor, records, facts, (p) => send({ phase: p }));
      send({ phase: 3 });
      const entry = await this.#journal({ ...edit, computedIn: "server", lm: this.#identity });
      send({ entry, result: edit.result });
    });
  }

  /**
   * Adds an edit computed in a tab (`transfer.ts`'s body) to the journal, applied, after the
   * checks the server's own edits pass (records, shapes, finite shifts, the LM it was made on).
   * @returns The entry.
   * @throws {TypeError}/{RangeError} For a body that does not fit the model; {NonFiniteError}
   *   for NaN or ±Inf shifts; {ProvenanceError} for an edit computed on another LM.
   */
  addTabEdit(bytes: Uint8Array): Promise<EntryInfo> {
    return this.#serial(async () => {
      await this.#follow();
      const edit = decodeEdit(bytes, this.#bench.model);
      if (!this.editors().includes(edit.result.editor)) {
        for (const t of edit.shifts.values()) t.dispose();
        throw new TypeError(
          `The tab's edit names editor "${edit.result.editor}"; this server has ${
            this.editors().join(", ")
          }`,
        );
      }
      return await this.#journal({ ...edit, computedIn: "tab" });
    });
  }

  /**
   * Applies (re-applies) or reverts a journal entry, in the journal and on the model.
   * @returns The entry.
   * @throws {RangeError} For an unknown id, or an entry already in that state.
   */
  setApplied(id: string, applied: boolean): Promise<EntryInfo> {
    return this.#serial(async () => {
      const entry = await this.store.setApplied(id, applied);
      await this.#follow();
      return entry;
    });
  }

  /** Waits for queued work, then releases the editors and the model. */
  async close(): Promise<void> {
    await this.#queue.catch(() => {});
    await this.#editors.dispose();
    this.#bench.dispose();
    this.#bench.model.dispose();
  }

  // Journals a new edit and applies it; the shifts pass to the workbench (or are disposed).
  async #journal(edit: StoreEdit): Promise<EntryInfo> {
    try {
      const entry = await this.store.add(edit);
      this.#bench.addEntry(entry.id, edit.shifts, true);
      return entry;
    } catch (e) {
      for (const t of edit.shifts.values()) t.dispose();
      throw e;
    }
  }

  // The model with exactly the entries the journal has applied now (the CLI may have changed it).
  async #follow(): Promise<void> {
    const model = this.#bench.model;
    await this.#bench.follow(await this.store.list(), (id) => this.store.read(id, model));
  }

  // Runs `fn` after everything queued before it, whatever their outcome.
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    this.#queued++;
    const run = this.#queue.then(fn).finally(() => this.#queued--);
    this.#queue = run.catch(() => {});
    return run;
  }
}

// The same record rules (and messages) as `deno task edit`, before anything is queued.
function checkBody(
  body: EditBody,
  editors: readonly string[],
): { editor: string; records: EditRecord[]; facts: FactInput[] } {
  if (typeof body !== "object" || body === null) throw new TypeError("Expected a JSON object");
  const { editor, records = [], facts = [] } = body;
  if (typeof editor !== "string" || !editors.includes(editor)) {
    throw new TypeError(
      `Field "editor" must be one of ${editors.join(", ")}, got ${JSON.stringify(editor)}`,
    );
  }
  if (!Array.isArray(records) || !Array.isArray(facts)) {
    throw new TypeError(`Fields "records" and "facts" must be arrays`);
  }
  return {
    editor,
    records: records.map((r, i) => counterFactRecord(r, "records", i)),
    facts: facts.map((f) => ({ ...f })),
  };
}
