/**
 * The editors by name: what each one is and how to open it for a trained LM, shared by the
 * CLIs, the benchmarks and any front end that lists editors. MALMEN and MEND-sum load a
 * meta-trained run (at its checkpoint chosen on the validation split), MEMIT a folder with its
 * key covariances and settings, and fine-tuning needs nothing.
 * @module
 */
import type { GPT } from "../../engine/models/gpt/model.ts";
import { defaultEditorConfig, type Editor, type EditorName } from "../editors/editor.ts";
import { FtEditor } from "../editors/ft.ts";
import { MemitEditor } from "../editors/memit.ts";
import type { ProvenanceOptions } from "../lm/identity.ts";
import { loadEditorRun } from "./runs.ts";

/** What a front end shows about an editor. */
export interface EditorInfo {
  /** Its name (`--editor NAME`). */
  name: EditorName;
  /** Display name. */
  title: string;
  /** One sentence. */
  description: string;
  /** What `openEditor` needs: a meta-trained run, a MEMIT folder, or nothing. */
  needs: "run" | "memit" | "none";
}

/** Every editor, in report order. */
export const EDITORS: readonly EditorInfo[] = [
  {
    name: "malmen",
    title: "MALMEN",
    description:
      "A meta-learned hyper-network turns keys and value-gradients into value changes; one least-squares solve per layer folds them into ΔW.",
    needs: "run",
  },
  {
    name: "mend",
    title: "MEND-sum",
    description: "The same hyper-network, its per-fact shifts summed instead of solved.",
    needs: "run",
  },
  {
    name: "ft",
    title: "FT",
    description: "Fine-tunes the edited layers' shifts with Adam on the edit tuples.",
    needs: "none",
  },
  {
    name: "memit",
    title: "MEMIT",
    description:
      "Optimises a target value per fact, then spreads the residuals over the edited layers by least squares weighted by the LM's own key covariance.",
    needs: "memit",
  },
];

/** The editor names, in report order. */
export const EDITOR_NAMES: readonly EditorName[] = EDITORS.map((e) => e.name);

/** Options of {@linkcode openEditor} (`force`: use an editor made for another LM). */
export interface OpenEditorOptions extends ProvenanceOptions {
  /** MALMEN/MEND run (or checkpoint) folder; MEMIT folder. Not used by FT. */
  dir?: string;
  /** FT's Adam learning rate (default `defaultEditorConfig`'s). */
  ftLr?: number;
  /** FT's passes over the edit tuples (default `defaultEditorConfig`'s). */
  ftEpochs?: number;
  /** MALMEN/MEND edit passes (default: the editor's `config.editPasses`, else 1). */
  passes?: number;
}

/** An opened editor; `dispose` releases what it holds (hyper-network, covariances). */
export type OpenedEditor = Editor & { dispose?: () => void };

/**
 * Opens an editor by name for a model.
 * @param name Which editor.
 * @param model The trained LM it edits.
 * @param options Folder, settings and `force`.
 * @throws {ProvenanceError} When the editor was made for another LM (unless `force`).
 */
export async function openEditor(
  name: EditorName,
  model: GPT,
  options: OpenEditorOptions = {},
): Promise<Editor & { dispose?: () => void }> {
  if (name === "ft") {
    const config = defaultEditorConfig(model.config.nLayer);
    return new FtEditor({
      ...config,
      ftLr: options.ftLr ?? config.ftLr,
      ftEpochs: options.ftEpochs ?? config.ftEpochs,
    });
  }
  const dir = options.dir ?? `runs/${name}`;
  const provenance = { force: options.force };
  if (name === "memit") return await MemitEditor.load(dir, model, provenance);
  const { editor } = await loadEditorRun(dir, model, provenance);
  if (editor.name !== name) {
    editor.dispose();
    throw new TypeError(`"${dir}" holds a ${editor.name} editor, not ${name}`);
  }
  if (options.passes !== undefined) editor.editPasses = options.passes;
  return editor;
}
