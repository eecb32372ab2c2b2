/// <reference lib="dom" />
/**
 * The page's calls to the server's `/api/…` routes. A failed call throws the server's error
 * message (the one `deno task edit` would print for the same input).
 * @module
 */
import type { EditBody, EditLine, EditResult, EntryInfo, ServeInfo } from "../protocol.ts";

async function check(response: Response): Promise<Response> {
  if (response.ok) return response;
  let message = `HTTP ${response.status}`;
  try {
    message = (await response.json()).error ?? message;
  } catch {
    // Not JSON: keep the status.
  }
  throw new Error(message);
}

async function call<T>(path: string, init?: RequestInit): Promise<T> {
  return await (await check(await fetch(path, init))).json() as T;
}

function post<T>(path: string, body?: unknown): Promise<T> {
  return call<T>(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** The model, the editors and the journal. */
export function info(): Promise<ServeInfo> {
  return call("/api/info");
}

/** The journal, oldest first. */
export function journal(): Promise<EntryInfo[]> {
  return call("/api/journal");
}

/** The server's greedy continuation of `prompt`. */
export async function ask(prompt: string): Promise<string> {
  return (await post<{ answer: string }>("/api/ask", { prompt })).answer;
}

/** Reverts (`applied` false) or re-applies a journal entry on the server. */
export function setApplied(id: string, applied: boolean): Promise<EntryInfo> {
  return post(`/api/journal/${encodeURIComponent(id)}/${applied ? "apply" : "revert"}`);
}

/** Sends an edit computed in this tab (`transfer.ts`'s body); the server applies it too. */
export async function addTabEdit(body: Uint8Array): Promise<EntryInfo> {
  return await call<EntryInfo>("/api/journal", {
    method: "POST",
    headers: { "content-type": "application/octet-stream" },
    body: body as Uint8Array<ArrayBuffer>,
  });
}

/**
 * Edits on the server, reading its progress lines as they come.
 * @param onLine Each progress line.
 * @returns The new entry and the scores.
 */
export async function edit(
  body: EditBody,
  onLine: (line: EditLine) => void,
): Promise<{ entry: EntryInfo; result: EditResult }> {
  const response = await check(
    await fetch("/api/edit", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  while (true) {
    const { value, done } = await reader.read();
    buffered += value ?? "";
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const text of lines.filter((l) => l.trim() !== "")) {
      const line = JSON.parse(text) as EditLine;
      if ("error" in line) throw new Error(line.error);
      if ("entry" in line) return line;
      onLine(line);
    }
    if (done) throw new Error("The server ended the edit without an answer");
  }
}
