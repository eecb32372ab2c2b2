/// <reference lib="dom" />
/**
 * The web app's page: ask the model, collect facts (typed, or from a CounterFact / zsRE file
 * parsed here by the same loader as `deno task edit`, so a bad file gets the same message), edit
 * them all at once, and list, revert, re-apply and download journal entries, computing on the
 * server or in this tab. Controls are plain form elements, so everything works from the keyboard;
 * `data-state` attributes say what the page is doing (the browser tests read them).
 * @module
 */
import { parseEditRecords } from "../../../malmen/data/edit_records.ts";
import {
  EDIT_PHASES,
  type EditLine,
  type EntryInfo,
  type FactInput,
  type ServeInfo,
} from "../protocol.ts";
import * as api from "./api.ts";
import { type Compute, serverCompute } from "./compute.ts";
import type { TabCompute } from "./tab.ts";
import { type Pending, renderFacts, renderJournal, renderResult } from "./view.ts";

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

const state = {
  info: null as ServeInfo | null,
  compute: serverCompute as Compute,
  tab: null as Promise<TabCompute> | null,
  pending: [] as Pending[],
  busy: false,
  // The prompt whose answer is on show. It is asked again whenever the model changes (an edit,
  // a revert, a re-apply), so the page never shows the answer of a model that is gone.
  asked: null as string | null,
};

function setStatus(text: string): void {
  $("status").textContent = text;
}

function showError(id: string, error: unknown): void {
  $(id).textContent = error instanceof Error ? error.message : String(error);
}

// Disables the controls that change the model while one operation runs.
function setBusy(busy: boolean): void {
  state.busy = busy;
  for (const id of ["ask-button", "add-fact", "upload", "clear-button"]) {
    ($(id) as HTMLButtonElement).disabled = busy;
  }
  ($("edit-button") as HTMLButtonElement).disabled = busy || state.pending.length === 0;
  ($("clear-button") as HTMLButtonElement).disabled = busy || state.pending.length === 0;
  for (const b of document.querySelectorAll<HTMLButtonElement>("#journal-table button")) {
    b.disabled = busy;
  }
  document.body.dataset.busy = String(busy);
}

function showPending(): void {
  renderFacts($("facts-table"), state.pending, (i) => {
    state.pending.splice(i, 1);
    showPending();
  });
  const n = state.pending.length;
  $("facts-count").textContent = n === 0
    ? "No facts yet."
    : `${n} fact${n === 1 ? "" : "s"} to edit.`;
  setBusy(state.busy);
}

function showJournal(entries: readonly EntryInfo[]): void {
  renderJournal($("journal-table"), entries, (id, apply) => void toggle(id, apply));
  setBusy(state.busy);
}

async function toggle(id: string, apply: boolean): Promise<void> {
  showError("journal-error", "");
  setBusy(true);
  try {
    await state.compute.setApplied(id, apply);
    showJournal(await api.journal());
    const done = apply ? "re-applied" : "reverted";
    await reask(`after entry ${id} was ${done}`);
    setStatus(`Entry ${id} ${done}.`);
  } catch (e) {
    showError("journal-error", e);
  } finally {
    setBusy(false);
  }
}

// Shows the model's greedy continuation of `prompt`, with an optional note on why it was asked.
async function showAnswer(prompt: string, note = ""): Promise<void> {
  const answer = $("answer");
  answer.dataset.state = "busy";
  answer.textContent = "…";
  try {
    const text = await state.compute.ask(prompt);
    answer.replaceChildren(
      prompt,
      Object.assign(document.createElement("mark"), { textContent: text }),
      ...(note
        ? [Object.assign(document.createElement("small"), { textContent: ` (${note})` })]
        : []),
    );
    answer.dataset.answer = text;
    answer.dataset.state = "done";
    state.asked = prompt;
  } catch (e) {
    answer.textContent = (e as Error).message;
    answer.dataset.state = "error";
    state.asked = null;
  }
}

// The model changed: the answer on show, if any, is asked again.
async function reask(note: string): Promise<void> {
  if (state.asked !== null) await showAnswer(state.asked, note);
}

async function ask(event: Event): Promise<void> {
  event.preventDefault();
  setBusy(true);
  try {
    await showAnswer(($("prompt") as HTMLInputElement).value);
  } finally {
    setBusy(false);
  }
}

function addFact(event: Event): void {
  event.preventDefault();
  const form = event.target as HTMLFormElement;
  const data = new FormData(form);
  const text = (name: string) => String(data.get(name) ?? "").trim();
  const fact: FactInput = {
    subject: text("subject"),
    prompt: text("prompt"),
    target: text("target"),
    paraphrase: text("paraphrase") || undefined,
    unrelated: text("unrelated") || undefined,
  };
  state.pending.push({ fact });
  form.reset();
  (form.elements.namedItem("subject") as HTMLInputElement).focus();
  showPending();
}

async function upload(): Promise<void> {
  const input = $("upload") as HTMLInputElement;
  const file = input.files?.[0];
  if (!file) return;
  showError("facts-error", "");
  try {
    const records = parseEditRecords(await file.text(), file.name);
    if (records.length === 0) throw new RangeError(`"${file.name}" has no records to edit`);
    state.pending.push(...records.map((record) => ({ record, source: file.name })));
    setStatus(`${records.length} records added from ${file.name}.`);
  } catch (e) {
    showError("facts-error", e);
  } finally {
    input.value = "";
    showPending();
  }
}

function progress(line: EditLine): void {
  const text = $("progress-text");
  if ("waiting" in line) text.textContent = "Waiting for the edit before this one…";
  if ("phase" in line) {
    ($("progress") as HTMLProgressElement).value = line.phase;
    text.textContent = `${EDIT_PHASES[line.phase]}…`;
  }
}

async function edit(): Promise<void> {
  showError("edit-error", "");
  const section = $("result-section");
  section.dataset.state = "busy";
  $("progress-box").hidden = false;
  progress({ phase: 0 });
  setBusy(true);
  const records = state.pending.flatMap((p) => ("record" in p ? [p.record] : []));
  const facts = state.pending.flatMap((p) => ("fact" in p ? [p.fact] : []));
  const editor = ($("editor") as HTMLSelectElement).value;
  try {
    const { entry, result } = await state.compute.edit({ editor, records, facts }, progress);
    renderResult($("result-summary"), $("result-table"), result, entry);
    section.hidden = false;
    state.pending = [];
    showPending();
    showJournal(await api.journal());
    await reask(`after entry ${entry.id}`);
    // "done" once the journal lists the entry too (the browser checks act on it next).
    section.dataset.entry = entry.id;
    section.dataset.state = "done";
    setStatus(`Edited ${result.m} facts: journal entry ${entry.id}.`);
  } catch (e) {
    section.dataset.state = "error";
    showError("edit-error", e);
  } finally {
    $("progress-box").hidden = true;
    setBusy(false);
  }
}

async function chooseCompute(mode: string): Promise<void> {
  const page = document.body;
  if (mode === "server") {
    state.compute = serverCompute;
    page.dataset.compute = "server";
    setStatus("Computing on the server.");
    return;
  }
  page.dataset.compute = "loading";
  setBusy(true);
  setStatus("Loading the engine and the model into this tab…");
  try {
    // The engine is loaded only when the tab computes.
    state.tab ??= import("./tab.ts").then((m) => m.TabCompute.load(state.info!));
    const tab = await state.tab;
    tab.lost.then((why) => {
      setStatus(`This tab lost its WebGPU device (${why}): reload the page to compute here again.`);
      page.dataset.gpuLost = "true";
    });
    state.compute = tab;
    $("tab-adapter").textContent = `(${tab.adapter})`;
    page.dataset.compute = "tab";
    setStatus(`Computing in this tab on ${tab.adapter}.`);
  } catch (e) {
    state.tab = null;
    ($("compute").querySelector("input[value=server]") as HTMLInputElement).checked = true;
    page.dataset.compute = "server";
    setStatus(`This tab cannot compute: ${(e as Error).message}. Computing on the server.`);
  } finally {
    setBusy(false);
  }
}

async function main(): Promise<void> {
  $("ask-form").addEventListener("submit", (e) => void ask(e));
  $("fact-form").addEventListener("submit", addFact);
  $("upload").addEventListener("change", () => void upload());
  $("edit-button").addEventListener("click", () => void edit());
  $("clear-button").addEventListener("click", () => {
    state.pending = [];
    showPending();
  });
  $("compute").addEventListener(
    "change",
    (e) => void chooseCompute((e.target as HTMLInputElement).value),
  );
  try {
    const info = state.info = await api.info();
    const { lm } = info;
    $("model-info").textContent = `GPT of ${lm.layers} blocks, d ${lm.dModel}, ` +
      `${lm.vocab} tokens (checkpoint step ${lm.step}).`;
    $("server-adapter").textContent = `(${info.backend})`;
    const select = $("editor") as HTMLSelectElement;
    select.replaceChildren(...info.editors.map((n) => new Option(n, n)));
    showPending();
    showJournal(info.journal);
    document.body.dataset.ready = "true";
    document.body.dataset.compute = "server";
  } catch (e) {
    setStatus(`Cannot reach the server: ${(e as Error).message}`);
  }
}

void main();
