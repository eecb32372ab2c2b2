/**
 * The server's side of the web app: the LM on Deno's backend in a workbench, the editors, and
 * the journal. Everything that touches the model or the journal runs through one queue, so
 * concurrent requests (two edits, an ask during an edit, a revert) are served one at a time in
 * arrival order and never see a half-edited model.
 * @module
 */
import type { Backend } from "../../engine/backend.ts";
import type { GPT } from "../../engine/models/gpt/model.ts";
import { counterFactRecord } from "../../malmen/data/counterfact.ts";
import type { EditRecord } from "../../malmen/data/edit_record.ts";
import { loadLmRun } from "../../malmen/lm/load.ts";
import { JournalStore } from "./journal_store.ts";
import type { EditBody, EditLine, EntryInfo, FactInput, ServeInfo } from "./protocol.ts";
import { decodeEdit } from "./transfer.ts";
import { Editors, Workbench } from "./workbench.ts";

/** What a session serves. */
export interface SessionOptions {
  /** The LM run folder. */
  lmDir: string;
  /** Run folders of the hyper-network editors that exist (`malmen`, `mend`). */
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
  readonly #editors: Editors;
  #queue: Promise<unknown> = Promise.resolve();
  #queued = 0;

  private constructor(
    options: SessionOptions,
    bench: Workbench,
    store: JournalStore,
    step: number,
  ) {
    this.options = options;
    this.#bench = bench;
    this.store = store;
    this.#step = step;
    this.#editors = new Editors(options.editorDirs, bench.model);
  }

  /**
   * Loads the LM and the journal, with the applied entries applied.
   * @throws When the LM run or the journal index cannot be read.
   */
  static async open(options: SessionOptions): Promise<Session> {
    const { model, tokenizer, step } = await loadLmRun(options.lmDir, options.backend);
    const bench = new Workbench(model, tokenizer);
    try {
      const store = await JournalStore.open(options.journalDir);
      for (const e of store.list()) {
        if (e.applied) bench.addEntry(e.id, await store.read(e.id, model), true);
      }
      return new Session(options, bench, store, step);
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

  /** The model, the editors and the journal, for `GET /api/info`. */
  info(): ServeInfo {
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
      journal: this.store.list(),
    };
  }

  /** Greedy continuation of `prompt` (queued behind edits). */
  ask(prompt: string, tokens?: number): Promise<string> {
    return this.#serial(() => this.#bench.ask(prompt, tokens));
  }

  /**
   * Edits the body's records and facts at once, appends the entry to the journal and applies
   * it. Progress, then the entry (or the error), go to `send`.
   * @throws {TypeError} Before queueing, naming the record and field of a bad record or an
   *   unknown editor.
   */
  edit(body: EditBody, send: (line: EditLine) => void): Promise<void> {
    const { editor: name, records, facts } = checkBody(body, this.info().editors);
    if (this.#queued > 0) send({ waiting: true });
    return this.#serial(async () => {
      const editor = await this.#editors.get(name);
      const bench = this.#bench;
      const { result, shifts } = await bench.edit(
        editor,
        records,
        facts,
        (p) => send({ phase: p }),
      );
      send({ phase: 3 });
      try {
        const entry = await this.store.add(shifts, result, "server", true);
        bench.addEntry(entry.id, shifts, true);
        send({ entry, result });
      } catch (e) {
        for (const t of shifts.values()) t.dispose();
        throw e;
      }
    });
  }

  /**
   * Adds an edit computed in a tab (`transfer.ts`'s body) to the journal, applied.
   * @returns The entry.
   * @throws {TypeError}/{RangeError} For a body that does not fit the model.
   */
  addTabEdit(bytes: Uint8Array): Promise<EntryInfo> {
    return this.#serial(async () => {
      const { shifts, result } = decodeEdit(bytes, this.#bench.model);
      try {
        const entry = await this.store.add(shifts, result, "tab", true);
        this.#bench.addEntry(entry.id, shifts, true);
        return entry;
      } catch (e) {
        for (const t of shifts.values()) t.dispose();
        throw e;
      }
    });
  }

  /**
   * Applies (re-applies) or reverts a journal entry, in the journal and on the model.
   * @returns The entry.
   * @throws {RangeError} For an unknown id.
   */
  setApplied(id: string, applied: boolean): Promise<EntryInfo> {
    return this.#serial(async () => {
      const bench = this.#bench;
      this.store.entryPath(id); // An unknown id fails before anything changes.
      if (bench.hasEntry(id)) bench.setApplied(id, applied);
      else if (applied) bench.addEntry(id, await this.store.read(id, bench.model), true);
      return await this.store.setApplied(id, applied);
    });
  }

  /** Waits for queued work, then releases the editors and the model. */
  async close(): Promise<void> {
    await this.#queue.catch(() => {});
    await this.#editors.dispose();
    this.#bench.dispose();
    this.#bench.model.dispose();
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
