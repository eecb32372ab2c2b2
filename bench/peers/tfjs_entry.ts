/**
 * The tfjs-webgpu peer as one module: tfjs-core, its gradient functions and the WebGPU backend.
 * `bench/gpu_prepare.sh` bundles it into `.device/tfjs_peer.js` (under 1 MB) with
 * `deno bundle --config bench/peers/deno.json --minify --platform deno`, so the peer travels to a
 * GPU machine that has no network instead of the 300 MB of npm packages; `TFJS_PEER_BUNDLE` then
 * points the peers at it (under either config: `tfjs.ts` then imports no package).
 * (Deno's npm loader cannot resolve tfjs-core's per-file ESM gradients, the bundler can: this
 * module is for bundling only; without a bundle, `tfjs.ts` loads the packages themselves.)
 * @module
 */
// Bare names, mapped by bench/peers/deno.json only (see tfjs.ts).
export * from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-core/dist/register_all_gradients.js";
import "@tensorflow/tfjs-backend-webgpu";
