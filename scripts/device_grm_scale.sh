#!/usr/bin/env bash
# One device-tool call for the GRM on a GPU: the gpu-marked tests of the CUDA paths, train-reward's pipeline
# throughput (augmentation on the GPU vs on the CPU), then scripts/grm_scale.py (short vs long training).
# Carry: .whl (mujoco, PyOpenGL, lerobot wheels), .gl (libEGL debs), .devdata (text.npz: grm_scale.py --make-text).
#   [LONG_SECONDS=200] bash scripts/device_grm_scale.sh
# Writes to $OUT: gpu.txt, gpu_tests.log, device_check.json, scale.json, scale_checkpoints.tar.gz, scale.log
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
[ "$dev" = cuda ] && timeout 150 $py -m pytest -q -m gpu -p no:cacheprovider tests/reward/test_augment.py \
  tests/reward/test_cuda.py > "$OUT/gpu_tests.log" 2>&1; tail -3 "$OUT/gpu_tests.log" 2>/dev/null
timeout 180 $py scripts/device_check.py --device "$dev" --out "$OUT" --skip latency,throughput,peers ${CHECK_ARGS:-} 2>&1 | tail -8
timeout ${SCALE_TIMEOUT:-420} $py scripts/grm_scale.py --text .devdata/text.npz --out /tmp/scale --device "$dev" \
  --long-seconds "${LONG_SECONDS:-200}" ${SCALE_ARGS:-} > "$OUT/scale.log" 2>&1
echo "grm_scale exit $?"; grep -v 'it/s\]$\|ep/s\]$\|step/s\]$' "$OUT/scale.log" | tail -6
[ -f /tmp/scale/scale.json ] && cp /tmp/scale/scale.json "$OUT/"
(cd /tmp/scale && tar czf "$OUT/scale_checkpoints.tar.gz" short long) 2>&1 | tail -2
nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv,noheader 2>&1 | tail -1
