/// <reference lib="dom" />
/**
 * The page's tables, built with DOM calls (text is always set as text, never parsed as HTML):
 * the facts waiting to be edited, the last edit's scores before → after, and the journal.
 * @module
 */
import type { EditRecord } from "../../../malmen/data/edit_record.ts";
import type { EditResult, EntryInfo, FactInput } from "../protocol.ts";

/** A fact waiting in the list: typed in the page, or a record from an uploaded file. */
export type Pending = { fact: FactInput } | { record: EditRecord; source: string };

// Long uploads are listed in part; all of them are edited.
const LISTED = 50;

/** An element with text or children. */
export function el(
  tag: string,
  content: string | (Node | string)[] = [],
  attrs: Record<string, string> = {},
): HTMLElement {
  const e = document.createElement(tag);
  if (typeof content === "string") e.textContent = content;
  else e.append(...content);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

/** Fills a table: a header row, then one row per entry. */
export function fillTable(
  table: HTMLTableElement,
  head: readonly string[],
  rows: readonly (Node | string)[][],
): void {
  table.replaceChildren(
    el("thead", [el("tr", head.map((h) => el("th", h, { scope: "col" })))]),
    el("tbody", rows.map((cells) => el("tr", cells.map((c) => cellOf(c))))),
  );
}

function cellOf(content: Node | string): HTMLElement {
  if (content instanceof HTMLElement && content.tagName === "TD") return content;
  return el("td", [content]);
}

/** A fraction as a whole percentage. */
export function pct(x: number): string {
  return `${Math.round(100 * x)}%`;
}

/** `before → after`, marked up or down. */
export function change(before: number, after: number): HTMLElement {
  const cls = after > before ? "num up" : after < before ? "num down" : "num";
  return el("td", `${pct(before)} → ${pct(after)}`, { class: cls });
}

/**
 * The waiting facts.
 * @param onRemove Called with the index of a removed fact.
 */
export function renderFacts(
  table: HTMLTableElement,
  items: readonly Pending[],
  onRemove: (index: number) => void,
): void {
  const rows = items.slice(0, LISTED).map((item, i) => {
    const f = "fact" in item ? { ...item.fact, from: "typed" } : {
      subject: item.record.subject,
      prompt: item.record.prompt,
      target: item.record.target_new,
      paraphrase: item.record.rephrase_prompt,
      from: item.source,
    };
    const remove = el("button", "Remove", { type: "button", "aria-label": `Remove ${f.subject}` });
    remove.addEventListener("click", () => onRemove(i));
    return [f.subject, f.prompt, f.target, f.paraphrase || "—", f.from, remove];
  });
  fillTable(table, ["Subject", "Prompt", "New target", "Paraphrase", "From", ""], rows);
  table.hidden = items.length === 0;
}

/** One-line summary of an edit's ES, GS and LS before → after. */
export function summaryText(s: EditResult["summary"]): string {
  const part = (name: string, v: { before: number; after: number }) =>
    `${name} ${pct(v.before)} → ${pct(v.after)}`;
  const ls = s.lsFacts > 0
    ? `${part("LS", s.ls)} (${s.lsFacts} facts)`
    : "LS — (no unrelated prompts)";
  return `${part("ES", s.es)} · ${part("GS", s.gs)} · ${ls}`;
}

/** The last edit: summary, then each fact's answers and scores before → after. */
export function renderResult(
  summary: HTMLElement,
  table: HTMLTableElement,
  result: EditResult,
  entry: EntryInfo,
): void {
  summary.textContent = `Entry ${entry.id}: ${result.editor} edited ${result.m} facts ` +
    `(${result.seconds.toFixed(1)} s, computed ${
      entry.computedIn === "tab" ? "in this tab" : "on the server"
    }). ${summaryText(result.summary)}`;
  const rows = result.facts.slice(0, LISTED).map((f) => [
    f.subject,
    el("span", [f.prompt, " ", el("strong", f.target)]),
    f.before === null ? "—" : f.before,
    f.after === null ? "—" : el("span", f.after, { class: "after" }),
    change(f.es[0], f.es[1]),
    change(f.gs[0], f.gs[1]),
    f.ls === null ? el("td", "—", { class: "num" }) : change(f.ls[0], f.ls[1]),
  ]);
  fillTable(table, ["Subject", "Prompt → new target", "Before", "After", "ES", "GS", "LS"], rows);
}

/**
 * The journal, newest first, with revert / re-apply and download per entry.
 * @param onToggle Called with an entry's id and whether to apply it.
 */
export function renderJournal(
  table: HTMLTableElement,
  entries: readonly EntryInfo[],
  onToggle: (id: string, apply: boolean) => void,
): void {
  const rows = [...entries].reverse().map((e) => {
    const action = el("button", e.applied ? "Revert" : "Re-apply", {
      type: "button",
      "data-id": e.id,
      "data-action": e.applied ? "revert" : "apply",
    });
    action.addEventListener("click", () => onToggle(e.id, !e.applied));
    const download = el("a", "Download", {
      href: `/api/journal/${encodeURIComponent(e.id)}/download`,
      download: `journal-${e.id}.safetensors`,
    });
    return [
      e.id,
      new Date(e.created).toLocaleString(),
      `${e.editor}, ${e.m} facts, ${e.computedIn}`,
      el("span", [e.facts.join("; "), e.m > e.facts.length ? " …" : ""]),
      e.summary === null ? "—" : summaryText(e.summary),
      el("td", e.applied ? "applied" : "reverted", {
        "data-state": e.applied ? "applied" : "reverted",
      }),
      el("span", [action, " ", download]),
    ];
  });
  fillTable(table, ["#", "Made", "Edit", "Facts", "Scores then", "State", ""], rows);
}
