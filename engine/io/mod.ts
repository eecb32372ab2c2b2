/**
 * File input and output: atomic writes and the safetensors tensor format.
 * @module
 */

export * from "./atomic.ts";
export * from "./safetensors.ts";
