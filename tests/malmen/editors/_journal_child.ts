// Fault-injection child: appends edits to a journal, printing each id; with `--pause-at entry`
// or `--pause-at event` it stops for good while committing edit 4 (before its shifts file or
// its log event is linked into place), to be killed there.
import { Journal } from "../../../malmen/editors/journal_log.ts";
import { pauseBefore } from "../lm/_kill.ts";
import { KILLED_INFO, killedEdit } from "./_journal_kill.ts";

const [dir, flag, where] = Deno.args;
if (flag === "--pause-at") {
  pauseBefore("link", where === "entry" ? "entries/000004.safetensors" : "log/000004.json");
}
const journal = await Journal.open(dir, { write: true });
for (let id = 1; id <= 4; id++) {
  const entry = await journal.addEdit(killedEdit(id), KILLED_INFO);
  console.log(`entry ${entry.id}`);
}
await journal.close();
