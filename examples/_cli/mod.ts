/**
 * The plumbing every program shares (the CLIs, `deno task bench`, `deno task report`): options
 * and errors, progress bars, SVG plots.
 * @module
 */
export * from "./options.ts";
export * from "./progress.ts";
export * from "./svg.ts";
export * from "./score_line.ts";
