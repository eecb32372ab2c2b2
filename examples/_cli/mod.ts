/**
 * The plumbing every program shares (the CLIs, `deno task bench`, `deno task report`): options
 * and errors, the flags naming data and models, checks of inputs and output folders before long
 * work, progress bars, SVG plots.
 * @module
 */
export * from "./checks.ts";
export * from "./options.ts";
export * from "./progress.ts";
export * from "./sources.ts";
export * from "./svg.ts";
export * from "./score_line.ts";
