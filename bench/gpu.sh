#!/usr/bin/env bash
# The device check: runs on a lent GPU machine (no network, no Deno), from the repository root,
# with `.device/` carried (see `bench/gpu_prepare.sh`, which fills it here). It benchmarks the
# engine on the card (matmul up to N = 4096 and the train step, each beside the bundled
# tfjs-webgpu peer; GPT-2 small: forward + backward and MALMEN edits of 64 and 1024 facts), runs
# the kernel and scheduler tests there, then, with META_MINUTES > 0, meta-trains MALMEN on the
# embedded world (resuming the carried checkpoint) and packs the result.
# Everything it writes goes to $OUT: bench.log, and with meta-training train.log, best.tar,
# latest.tar. First run 2026-11-26 on an H100 (driver 580.159.04): about 7 minutes with
# META_MINUTES=5 (before the GPT-2-small benchmark existed).
#   device run: carry [".device"], command: OUT=$OUT bash bench/gpu.sh
set -uo pipefail
OUT=${OUT:-/tmp/gpu-out}
META_MINUTES=${META_MINUTES:-0}
N_EDITS=${N_EDITS:-478}
mkdir -p "$OUT"
log="$OUT/bench.log"
t0=$(date +%s)
stamp() { echo "[gpu.sh +$(($(date +%s) - t0))s] $*" | tee -a "$log"; }

for f in .device/*.deb; do dpkg -x "$f" /; done
ldconfig
xz -dc .device/deno.xz >/tmp/deno && chmod +x /tmp/deno
export PATH=/tmp:$PATH DENO_DIR=$PWD/.device/deno_dir
export VK_DRIVER_FILES=${VK_DRIVER_FILES:-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
# Under the root config and without lockfiles (the cache in .device was filled with --no-lock):
# the tfjs peer comes from its bundle, whose npm packages do not travel.
D="deno run -A --no-lock --cached-only"

stamp "card: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>&1)"
$D - <<'EOF' 2>&1 | tee -a "$log"
import { initWebGpu } from "./engine/backend.ts";
const g = await initWebGpu();
console.log(`adapter: ${g.adapter} (fallback: ${g.isFallbackAdapter})`);
EOF

peers=--no-peers
if [ -f .device/tfjs_peer.js ]; then
  export TFJS_PEER_BUNDLE=$PWD/.device/tfjs_peer.js
  peers=
fi
stamp "benchmarks (tfjs peer: ${TFJS_PEER_BUNDLE:-absent})"
timeout 300 $D bench/main.ts matmul train_step --json $peers 2>&1 | tee -a "$log"
stamp "GPT-2 small (124M, random weights)"
timeout 240 $D bench/main.ts gpt2_small --json 2>&1 | tee -a "$log"

stamp "kernel and scheduler tests on the card"
timeout 150 deno test -A --no-lock --cached-only --no-check tests/engine/ops \
  tests/malmen/algorithm/scheduler_test.ts tests/malmen/algorithm/ridge_solve_test.ts \
  tests/malmen/algorithm/ridge_prior_test.ts 2>&1 |
  grep -E "FAILED|failed|passed|^error" | tail -n 20 | tee -a "$log"

if [ "$META_MINUTES" -le 0 ]; then
  stamp "done (no meta-training: META_MINUTES=0)"
  exit 0
fi
stamp "meta-training MALMEN for $META_MINUTES min at $N_EDITS facts per step"
rm -rf runs && mkdir -p runs && cp -r .device/runs/lm .device/runs/malmen runs/
# --minutes bounds the run's total meta-training time, earlier sessions included.
export META_MINUTES
minutes=$($D - <<'EOF' 2>>"$log"
const p = JSON.parse(Deno.readTextFileSync("runs/malmen/latest.json")).checkpoint;
const s = JSON.parse(Deno.readTextFileSync(`runs/malmen/${p}/state.json`)).seconds;
console.log(Math.ceil(s / 60 + Number(Deno.env.get("META_MINUTES") ?? 4)));
EOF
)
stamp "total meta-training minutes: $minutes"
timeout $((META_MINUTES * 60 + 90)) $D examples/train.ts --editor malmen --lm runs/lm \
  --out runs/malmen --resume --steps 100000 --n-edits "$N_EDITS" --meta-lr 1e-3 \
  --val-every 25 --minutes "$minutes" --json 2>&1 | tr '\r' '\n' |
  grep -E "val|^\{|rror" | tail -n 60 >"$OUT/train.log"
tail -n 3 "$OUT/train.log" | tee -a "$log"

# Only a few files come back: pack the best checkpoint, and the latest without its optimizer.
pointer() { sed -n 's/.*"checkpoint": *"\([^"]*\)".*/\1/p' "$1"; }
[ -f runs/malmen/best.json ] &&
  tar cf "$OUT/best.tar" -C runs malmen/best.json "malmen/$(pointer runs/malmen/best.json)"
tar cf "$OUT/latest.tar" -C runs --exclude optimizer.safetensors malmen/latest.json \
  "malmen/$(pointer runs/malmen/latest.json)"
stamp "done"
