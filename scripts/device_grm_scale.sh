#!/usr/bin/env bash
# One device-tool call for the GRM on a GPU: the gpu-marked tests of the CUDA paths, train-reward's pipeline
# throughput (pair sampler in-process vs in 4 / 8 worker processes), then scripts/grm_scale.py (by default
# `strong` vs `strong-episode` augmentation, two seeds each, 2,500 steps; runs cut off by the timeout are lost,
# finished ones are in scale.json).
# Carry: .whl (mujoco, PyOpenGL wheels), .gl (libEGL debs), .devdata (text.npz: grm_scale.py --make-text).
#   [SKIP_CHECKS=1 (no tests, no pipeline check)] [SCALE_ARGS="..."] [SCALE_TIMEOUT=320] bash scripts/device_grm_scale.sh
# Writes to $OUT: gpu.txt, gpu_tests.log, device_check.json, scale.json, scale.log and the checkpoints as
# scale_checkpoints_<k>.tar.gz, four models each (a file that comes back holds at most 16 MiB)
set -uo pipefail
if [ -z "${NO_SETUP:-}" ]; then  # NO_SETUP=1 DEVICE=cpu SCALE_ARGS=--tiny: a dry run on a development machine
  for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
  vendor=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  [ -f $vendor ] && export __EGL_VENDOR_LIBRARY_FILENAMES=$vendor
fi
export MUJOCO_GL=egl PYTHONUNBUFFERED=1
py=${PYTHON:-python3} dev=${DEVICE:-cuda}
echo "cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)" | tee "$OUT/gpu.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee -a "$OUT/gpu.txt"
# sampler workers hand batches over in shared memory: a container's default 64 MB /dev/shm cannot hold them
shm_mb=$(( $(df -k --output=avail /dev/shm | tail -1) / 1024 ))
echo "/dev/shm: ${shm_mb} MB free" | tee -a "$OUT/gpu.txt"
[ "$shm_mb" -lt 2048 ] && export SCALE_WORKERS="--sampler-workers 0"
if [ -z "${SKIP_CHECKS:-}" ]; then
  [ "$dev" = cuda ] && timeout 90 $py -m pytest -q -m gpu -p no:cacheprovider tests/reward/test_augment.py \
    tests/reward/test_cuda.py > "$OUT/gpu_tests.log" 2>&1; tail -3 "$OUT/gpu_tests.log" 2>/dev/null
  timeout 120 $py scripts/device_check.py --device "$dev" --out "$OUT" --skip latency,throughput,peers \
    --sampler-workers 0,4,8 ${CHECK_ARGS:-} 2>&1 | grep -v '^{' | tail -8
fi
timeout ${SCALE_TIMEOUT:-320} $py scripts/grm_scale.py --text .devdata/text.npz --out /tmp/scale --device "$dev" \
  ${SCALE_ARGS:---augment strong,strong-episode --seeds 0,1 --long-seconds 0} ${SCALE_WORKERS:-} > "$OUT/scale.log" 2>&1
echo "grm_scale exit $?"; grep -v 'it/s\]$\|ep/s\]$\|step/s\]$' "$OUT/scale.log" | tail -6
[ -f /tmp/scale/scale.json ] && cp /tmp/scale/scale.json "$OUT/"
(cd /tmp/scale && ls -d */ | xargs -n 4 | nl -nln | while read -r k dirs; do
  tar czf "$OUT/scale_checkpoints_$k.tar.gz" $dirs; done) 2>&1 | tail -2
nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader 2>&1 | tail -1
