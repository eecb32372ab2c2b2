/**
 * The plumbing every program shares (the CLIs, `deno task bench`, `deno task report`): options
 * and errors, checks of inputs and output folders before long work, progress bars, SVG plots.
 * @module
 */
export * from "./checks.ts";
export * from "./options.ts";
export * from "./progress.ts";
export * from "./svg.ts";
