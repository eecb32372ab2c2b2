#!/usr/bin/env bash
# Fills `.device/` (git-ignored through .git/info/exclude) with what `bench/gpu.sh` needs on a
# lent GPU machine that has no network and no Deno: the Deno binary (xz), the Vulkan loader,
# a Deno cache of the two small npm packages the engine imports, the tfjs-webgpu peer bundled
# into one file, the LM run (weights only) and the MALMEN run to resume. Keep it under the
# 64 MiB that travels.
#   bash bench/gpu_prepare.sh [LM_RUN] [MALMEN_RUN]   (defaults runs/demo/lm runs/demo/malmen)
# Then call the device with carry [".device"] and: OUT=$OUT bash bench/gpu.sh
set -euo pipefail
lm=${1:-runs/demo/lm}
malmen=${2:-runs/demo/malmen}
grep -qx '/.device/' .git/info/exclude 2>/dev/null || echo '/.device/' >>.git/info/exclude
mkdir -p .device
deno_bin=$(readlink -f "$(npx -y deno@2.9.6 eval 'console.log(Deno.execPath())')")
[ -f .device/deno.xz ] || xz -3 -T1 -c "$deno_bin" >.device/deno.xz
# The Vulkan loader, and libglvnd: NVIDIA's Vulkan ICD lives in libGLX_nvidia.so.0, which does
# not load without libGLdispatch (the loader then says "Could not get 'vkCreateInstance'").
ls .device/libglvnd0_*.deb >/dev/null 2>&1 ||
  (cd .device && apt-get download -oAPT::Architecture=amd64 libvulkan1 libglvnd0 libglx0 \
    libegl1 libopengl0 libgl1)
rm -rf .device/deno_dir
DENO_DIR=.device/deno_dir deno cache --no-lock examples/train.ts >/dev/null 2>&1
# The tfjs-webgpu peer as one minified module (under 1 MB; its npm packages are 300 MB).
# The peers' own config maps their bare names and pins them in bench/peers/deno.lock.
deno bundle --quiet --config bench/peers/deno.json --minify --platform deno \
  -o .device/tfjs_peer.js bench/peers/tfjs_entry.ts

pointer() { sed -n 's/.*"checkpoint": *"\([^"]*\)".*/\1/p' "$1"; }
rm -rf .device/runs && mkdir -p .device/runs/lm .device/runs/malmen/checkpoints
ck=$(pointer "$lm/latest.json")
cp "$lm"/config.json "$lm"/latest.json "$lm"/tokenizer.json .device/runs/lm/
mkdir -p ".device/runs/lm/$ck"
cp "$lm/$ck"/{config.json,model.safetensors,state.json,tokenizer.json} ".device/runs/lm/$ck/"
ck=$(pointer "$malmen/latest.json")
cp -r "$malmen/$ck" .device/runs/malmen/checkpoints/
cp "$malmen/latest.json" .device/runs/malmen/
du -sh .device
