/// <reference lib="dom" />
/**
 * The page's work on the browser's WebGPU: the engine, the LM (fetched from the server's run
 * files) and the editors run in this tab. The journal stays the server's: an edit made here is
 * sent there (and applied there too), and before each operation the tab applies exactly the
 * entries the journal has applied, fetching the ones it lacks.
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

  private constructor(info: ServeInfo, bench: Workbench, adapter: string, lost: Promise<string>) {
    this.#info = info;
    this.#bench = bench;
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
    const { model, tokenizer } = await loadLmRun(info.lm.path, gpu);
    const lost = gpu.dispatcher.device.lost.then((i) => i.message || i.reason || "unknown");
    const tab = new TabCompute(info, new Workbench(model, tokenizer), adapter || gpu.adapter, lost);
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
    const { result, shifts } = await this.#bench.edit(
      editor,
      body.records,
      body.facts,
      (phase) => onLine({ phase }),
    );
    onLine({ phase: 3 });
    try {
      const entry = await api.addTabEdit(await encodeEdit(shifts, result));
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
    const bench = this.#bench;
    for (const e of await api.journal()) {
      if (bench.hasEntry(e.id)) bench.setApplied(e.id, e.applied);
      else if (e.applied) {
        const { shifts } = await readJournalEntry(`files/journal/${e.id}.safetensors`, bench.model);
        bench.addEntry(e.id, shifts, true);
      }
    }
  }
}
