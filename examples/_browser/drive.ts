/**
 * Drives the web app's page the way a person would — typing and pressing Enter, uploading a
 * file, choosing an editor and a compute mode, clicking buttons — and reads back what the page
 * shows (its `data-state` attributes and texts). The browser tests and `deno task browser-check`
 * share it.
 * @module
 */
import type { CdpPage } from "./cdp.ts";

const js = JSON.stringify;

// `page.waitUntil`, with what the page's status line says when it times out.
async function waitFor<T>(page: CdpPage, condition: string, timeoutMs: number): Promise<T> {
  try {
    return await page.waitUntil<T>(condition, timeoutMs);
  } catch (e) {
    const status = await text(page, "#status").catch(() => "");
    throw new Error(`${(e as Error).message}${status ? `; the page says: ${status}` : ""}`);
  }
}

/** Opens the app and waits until it has loaded the server's info. */
export async function openApp(page: CdpPage, url: string): Promise<void> {
  await page.navigate(url);
  await waitFor(page, `document.body.dataset.ready === "true"`, 30_000);
}

/**
 * Chooses where the page computes and waits until it is ready there ("tab" loads the engine
 * and the model into the tab).
 * @throws {Error} With the page's status when the tab cannot compute.
 */
export async function chooseCompute(
  page: CdpPage,
  mode: "server" | "tab",
  timeoutMs = 120_000,
): Promise<void> {
  await page.evaluate(`document.querySelector("input[name=compute][value=${mode}]").click()`);
  const state = await waitFor<string>(
    page,
    `document.body.dataset.compute !== "loading" && document.body.dataset.compute`,
    timeoutMs,
  );
  if (state !== mode) {
    throw new Error(`The page cannot compute in ${mode}: ${await text(page, "#status")}`);
  }
}

// Waits until element `id` says its operation is "done" or ended in an "error".
function settled(page: CdpPage, id: string, timeoutMs: number): Promise<"done" | "error"> {
  const state = `document.getElementById(${js(id)}).dataset.state`;
  return waitFor(page, `["done", "error"].includes(${state}) && ${state}`, timeoutMs);
}

/** The text of the first element matching `selector`. */
export function text(page: CdpPage, selector: string): Promise<string> {
  return page.evaluate(`document.querySelector(${js(selector)})?.textContent ?? ""`);
}

/**
 * Asks the model from the keyboard: types the prompt, presses Enter.
 * @returns The continuation the page shows.
 * @throws {Error} With the page's message when the answer is an error.
 */
export async function ask(page: CdpPage, prompt: string, timeoutMs = 120_000): Promise<string> {
  await page.evaluate(`(() => {
    const input = document.getElementById("prompt");
    input.value = ${js(prompt)};
    input.focus();
    document.getElementById("answer").dataset.state = "sent";
  })()`);
  for (const type of ["keyDown", "keyUp"]) {
    await page.send("Input.dispatchKeyEvent", {
      type,
      key: "Enter",
      code: "Enter",
      windowsVirtualKeyCode: 13,
      text: type === "keyDown" ? "\r" : undefined,
    });
  }
  if ((await settled(page, "answer", timeoutMs)) === "error") {
    throw new Error(`Ask failed: ${await text(page, "#answer")}`);
  }
  return await page.evaluate(`document.getElementById("answer").dataset.answer`);
}

/**
 * Picks a file in the upload control.
 * @returns The page's error message for the file ("" when it was accepted).
 */
export async function upload(page: CdpPage, name: string, contents: string): Promise<string> {
  await page.evaluate(`(() => {
    const input = document.getElementById("upload");
    const files = new DataTransfer();
    files.items.add(new File([${js(contents)}], ${js(name)}, { type: "application/json" }));
    input.files = files.files;
    document.getElementById("facts-error").textContent = "";
    input.dispatchEvent(new Event("change"));
  })()`);
  // Parsing is quick but asynchronous (File.text()); the input is cleared when it is done.
  await waitFor(page, `document.getElementById("upload").value === ""`, 10_000);
  return await text(page, "#facts-error");
}

/**
 * Types one fact into the form and adds it.
 * @param fact Subject, prompt, new target (and optional paraphrase).
 */
export async function typeFact(
  page: CdpPage,
  fact: { subject: string; prompt: string; target: string; paraphrase?: string },
): Promise<void> {
  await page.evaluate(`(() => {
    const form = document.getElementById("fact-form");
    for (const [k, v] of Object.entries(${js(fact)})) form.elements.namedItem(k).value = v;
    document.getElementById("add-fact").click();
  })()`);
}

/**
 * Edits the listed facts with `editor` and waits for the result.
 * @returns The new journal entry's id and the page's one-line summary.
 * @throws {Error} With the page's message when the edit fails.
 */
export async function edit(
  page: CdpPage,
  editor: string,
  timeoutMs = 240_000,
): Promise<{ entry: string; summary: string }> {
  await page.evaluate(`(() => {
    document.getElementById("editor").value = ${js(editor)};
    document.getElementById("result-section").dataset.state = "sent";
    document.getElementById("edit-button").click();
  })()`);
  if ((await settled(page, "result-section", timeoutMs)) === "error") {
    throw new Error(`Edit failed: ${await text(page, "#edit-error")}`);
  }
  return {
    entry: await page.evaluate(`document.getElementById("result-section").dataset.entry`),
    summary: await text(page, "#result-summary"),
  };
}

/**
 * Clicks an entry's Revert or Re-apply button and waits for the journal to show the new state.
 * @throws {Error} When the button is not there or the page reports an error.
 */
export async function toggleEntry(
  page: CdpPage,
  id: string,
  action: "revert" | "apply",
  timeoutMs = 120_000,
): Promise<void> {
  const selector = `#journal-table button[data-id=${js(id)}][data-action=${action}]`;
  const clicked = await page.evaluate(`(() => {
    const b = document.querySelector(${js(selector)});
    if (!b) return false;
    b.click();
    return true;
  })()`);
  if (!clicked) throw new Error(`No ${action} button for journal entry ${id}`);
  const want = action === "revert" ? "apply" : "revert";
  await waitFor(
    page,
    `document.body.dataset.busy === "false" && (document.getElementById("journal-error").textContent
      || document.querySelector(${
      js(`#journal-table button[data-id="${id}"][data-action=${want}]`)
    }))`,
    timeoutMs,
  );
  const error = await text(page, "#journal-error");
  if (error) throw new Error(`${action} failed: ${error}`);
}

/**
 * What a PNG screenshot shows, decoded by the browser itself: size, distinct colours and the
 * fraction of pixels that differ from the top-left (background) pixel.
 */
export async function pictureStats(
  page: CdpPage,
  png: Uint8Array,
): Promise<{ width: number; height: number; colours: number; ink: number }> {
  const b64 = btoa(Array.from(png, (b) => String.fromCharCode(b)).join(""));
  return await page.evaluate(`(async () => {
    const bytes = Uint8Array.from(atob(${js(b64)}), (c) => c.charCodeAt(0));
    const bitmap = await createImageBitmap(new Blob([bytes], { type: "image/png" }));
    const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
    const g = canvas.getContext("2d");
    g.drawImage(bitmap, 0, 0);
    const px = new Uint32Array(g.getImageData(0, 0, bitmap.width, bitmap.height).data.buffer);
    const colours = new Set(px).size;
    const ink = px.filter((p) => p !== px[0]).length / px.length;
    return { width: bitmap.width, height: bitmap.height, colours, ink };
  })()`);
}

/** What {@linkcode askEditRevert} saw. */
export interface FlowResult {
  /** The answer before the edit. */
  before: string;
  /** After it. */
  after: string;
  /** On show right after the revert, before asking again (the page re-asks by itself). */
  shownReverted: string;
  /** After reverting the entry. */
  reverted: string;
  /** After re-applying it. */
  reapplied: string;
  /** The entry's id. */
  entry: string;
  /** The page's summary of the edit. */
  summary: string;
}

/**
 * The app's round trip: ask, upload the records and edit them all at once, ask again, revert
 * the entry and ask, re-apply it and ask, then revert it again (the model is left as found).
 * @throws {Error} With the page's message when a step fails.
 */
export async function askEditRevert(
  page: CdpPage,
  o: { prompt: string; records: readonly unknown[]; editor: string },
): Promise<FlowResult> {
  const before = await ask(page, o.prompt);
  const error = await upload(page, "facts.json", JSON.stringify(o.records));
  if (error) throw new Error(`The upload was refused: ${error}`);
  const { entry, summary } = await edit(page, o.editor);
  const after = await ask(page, o.prompt);
  await toggleEntry(page, entry, "revert");
  const shownReverted = await page.evaluate<string>(
    `document.getElementById("answer").dataset.answer`,
  );
  const reverted = await ask(page, o.prompt);
  await toggleEntry(page, entry, "apply");
  const reapplied = await ask(page, o.prompt);
  await toggleEntry(page, entry, "revert");
  return { before, after, shownReverted, reverted, reapplied, entry, summary };
}
