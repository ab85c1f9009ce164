#!/usr/bin/env bash
# RL sweeps on a lent machine (device tool: 16 cores + one GPU), in one call. Runs use one CPU core each
# by default (DEVICE=cpu): 15 small learners time-sliced on one GPU were slower than on CPU cores.
# Carry: .whl (mujoco, PyOpenGL wheels), .gl (libEGL debs), .devdata/grm (the GRM checkpoint).
#   [DEVICE=cpu|cuda] [RL_EXTRA="--residual 0.1"  (appended: overrides the recipe)] bash scripts/device_sweep.sh SECONDS SEEDS JOBS TASK:MODES [TASK:MODES ...]
#   e.g. bash scripts/device_sweep.sh 420 0,1,2,3,4 15 pick-place:pbrs,sparse,delta
# Sweeps run side by side; each writes $OUT/<task>.tar.gz (metrics, summaries, evaluations, logs of every
# run, finished or not) and, when complete, $OUT/<task>_sweep.json/.png.
set -uo pipefail
budget=$1 seeds=$2 jobs=$3
shift 3
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD MUJOCO_GL=egl PYTHONUNBUFFERED=1
vendor=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
[ -f $vendor ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$vendor
echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
python3 -c "import numpy as np; from robo_reward.envs import make_env, SimConfig
e = make_env('pick-place', SimConfig(image_size=96, cameras=('front',))); im = e.reset(0).obs.images['front']
print('render ok', im.shape, float(np.asarray(im).std()))" || exit 1
for spec in "$@"; do
  task=${spec%%:*} modes=${spec#*:}
  timeout "$budget" python3 -m robo_reward.cli sweep --task "$task" --out "/tmp/sweep/$task" --modes "$modes" \
    --seeds "$seeds" --grm .devdata/grm --episodes 150 --jobs "$jobs" --rl-args="--demo-episodes 20 --bc-init-steps 3000 \
    --critic-pretrain-steps 1000 --warmup-steps 256 --init-alpha 0.01 --max-std 0.5 --residual 0.05 --bc-ensemble 5 --utd 1 --eval-episodes 40 \
    --device ${DEVICE:-cpu} --checkpoint-every 25 ${RL_EXTRA:-}" > "/tmp/sweep-$task.log" 2>&1 &
done
wait
for spec in "$@"; do
  task=${spec%%:*}
  tail -3 "/tmp/sweep-$task.log"
  cp "/tmp/sweep-$task.log" "/tmp/sweep/$task/"
  (cd /tmp/sweep && tar czf "$OUT/$task.tar.gz" --exclude=checkpoint "$task")
  [ -f "/tmp/sweep/$task/sweep.json" ] && cp "/tmp/sweep/$task/sweep.json" "$OUT/${task}_sweep.json" \
    && cp "/tmp/sweep/$task/sweep.png" "$OUT/${task}_sweep.png"
  for d in /tmp/sweep/$task/*/; do
    echo "$d $(wc -l < "$d/metrics.jsonl" 2>/dev/null) $(tr -d '\n ' < "$d/summary.json" 2>/dev/null | cut -c1-150)"
  done
done
nvidia-smi --query-gpu=name,memory.used,utilization.gpu --format=csv
