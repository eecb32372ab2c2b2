/// <reference lib="dom" />
/**
 * The page's work on the browser's WebGPU: the engine, the LM (fetched from the server's run
 * files) and the editors run in this tab. The journal stays the server's: an edit made here is
 * sent there with the LM identity it was computed on (the server checks it, the records and the
 * shifts as it checks its own edits, and applies it too), and before each operation the tab
 * applies exactly the entries the journal has applied, fetching the ones it lacks (each checked
 * against this tab's LM).
 * @module
 */
import { initWebGpu } from "../../../engine/backend.ts";
import { browserPlatform, setPlatform } from "../../../engine/platform/mod.ts";
import { readJournalEntry } from "../../../malmen/editors/journal.ts";
import { loadLmRun } from "../../../malmen/lm/load.ts";
import type { EditBody, EditLine, EditResult, EntryInfo, ServeInfo } from "../protocol.ts";
import { encodeEdit } from "../transfer.ts";
import { Editors, Workbench } from "../workbench.ts";
import * as api from "./api.ts";
import type { Compute } from "./compute.ts";

/** This tab computes. */
export class TabCompute implements Compute {
  /** Always "tab". */
  readonly mode = "tab" as const;
  /** The browser's WebGPU adapter. */
  readonly adapter: string;
  /** Settles with the reason if the browser takes the WebGPU device away. */
  readonly lost: Promise<string>;
  readonly #info: ServeInfo;
  readonly #bench: Workbench;
  readonly #editors: Editors;
  readonly #identity: string;

  private constructor(
    info: ServeInfo,
    bench: Workbench,
    identity: string,
    adapter: string,
    lost: Promise<string>,
  ) {
    this.#info = info;
    this.#bench = bench;
    this.#identity = identity;
    this.adapter = adapter;
    this.lost = lost;
    this.#editors = new Editors(info.editorPaths, bench.model);
  }

  /**
   * Starts WebGPU in this tab and loads the server's LM over `fetch`.
   * @throws {Error} Without WebGPU, or when the model cannot be loaded.
   */
  static async load(info: ServeInfo): Promise<TabCompute> {
    // Run folders are read relative to the site's root: files/lm, files/editors/…
    setPlatform(browserPlatform(new URL("/", location.href)));
    const gpu = await initWebGpu();
    const adapterInfo = (await navigator.gpu.requestAdapter())?.info;
    const adapter = [adapterInfo?.vendor, adapterInfo?.architecture].filter(Boolean).join(" ");
    const { model, tokenizer, identity } = await loadLmRun(info.lm.path, gpu);
    const lost = gpu.dispatcher.device.lost.then((i) => i.message || i.reason || "unknown");
    const bench = new Workbench(model, tokenizer);
    const tab = new TabCompute(info, bench, identity, adapter || gpu.adapter, lost);
    await tab.#sync();
    return tab;
  }

  /** Greedy continuation, computed here. */
  async ask(prompt: string): Promise<string> {
    await this.#sync();
    return await this.#bench.ask(prompt);
  }

  /** Edits here, then sends the entry to the server's journal. */
  async edit(
    body: EditBody,
    onLine: (line: EditLine) => void,
  ): Promise<{ entry: EntryInfo; result: EditResult }> {
    await this.#sync();
    const editor = await this.#editors.get(body.editor);
    const edit = await this.#bench.edit(
      editor,
      body.records,
      body.facts,
      (phase) => onLine({ phase }),
    );
    const { result, shifts } = edit;
    onLine({ phase: 3 });
    try {
      const entry = await api.addTabEdit(await encodeEdit({ ...edit, lm: this.#identity }));
      this.#bench.addEntry(entry.id, shifts, true);
      return { entry, result };
    } catch (e) {
      for (const t of shifts.values()) t.dispose();
      throw e;
    }
  }

  /** Reverts or re-applies in the server's journal, then here. */
  async setApplied(id: string, applied: boolean): Promise<EntryInfo> {
    const entry = await api.setApplied(id, applied);
    await this.#sync();
    return entry;
  }

  // Applies here exactly what the server's journal has applied.
  async #sync(): Promise<void> {
    const model = this.#bench.model;
    const read = async (id: string) =>
      (await readJournalEntry(`files/journal/${id}.safetensors`, model)).shifts;
    await this.#bench.follow(await api.journal(), read);
  }
}
