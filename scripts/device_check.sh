#!/bin/bash
# The CUDA check, for a session lent a GPU machine (the `device` tool): the CUDA-parametrized
# tests and the GPU benches, in one short run (~6 min on an H200).
#
#   scripts/device_check.sh prepare   # here: wheels the GPU machine lacks, into .whl/ (ignored)
#   scripts/device_check.sh run       # there, from the repository root, with .whl carried;
#                                     # writes env.txt, cuda-tests.{log,xml}, bench.jsonl/.err
#                                     # under $OUT
#
# The GPU machine has its own torch/torchvision (no network there, no gradio): the tests run are
# the ones that import no gradio; transformers, pycocotools and isal (the PNG writer's deflate)
# are carried at our pinned versions.
set -u
case "${1:-}" in
prepare)
  grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform any -d .whl \
    "$(grep ^transformers== requirements.txt)" "$(grep ^pycocotools== requirements.txt)" \
    "$(grep ^isal== requirements.txt)" \
    gradio_client=="$(.venv/bin/python -c 'import gradio_client; print(gradio_client.__version__)')"
  ;;
run)
  export PYTHONUNBUFFERED=1 SEGDEMO_WEIGHTS=random SEGDEMO_OFFLINE=1 HF_HUB_OFFLINE=1 \
    TORCH_HOME=/tmp/torch HF_HUB_CACHE=/tmp/hf
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:$PWD
  {
    date -u; nvidia-smi -L; nproc
    python3 -c "import sys, torch, torchvision, transformers; print(sys.version, torch.__version__,
torchvision.__version__, transformers.__version__, torch.cuda.get_device_name(0))"
  } > "$OUT/env.txt" 2>&1
  timeout 170 python3 -m pytest -q -p no:cacheprovider -rfEs -k cuda --timeout 120 \
    --junitxml="$OUT/cuda-tests.xml" tests/test_masks.py tests/test_images.py \
    tests/test_semantic.py tests/test_instance.py tests/test_panoptic.py tests/test_live.py \
    tests/test_bench.py tests/test_evaluate.py tests/test_groundtruth.py \
    > "$OUT/cuda-tests.log" 2>&1
  echo "pytest rc=$?" >> "$OUT/cuda-tests.log"
  bench() {  # a time limit in seconds, then the bench's arguments
    local limit=$1; shift
    echo "## $*" >> "$OUT/bench.jsonl"
    timeout "$limit" python3 -m segdemo.bench --device cuda "$@" \
      >> "$OUT/bench.jsonl" 2>> "$OUT/bench.err"
    echo "## rc=$?" >> "$OUT/bench.jsonl"
  }
  bench 70 --suite precision --repeat 5
  bench 40 --suite live --size 720x1280 --repeat 10
  bench 40 --suite live --repeat 10
  bench 60 --suite semantic --repeat 5
  bench 60 --suite instance --repeat 5
  bench 70 --suite panoptic --repeat 5
  bench 40 --suite masks --repeat 10
  ;;
*)
  echo "usage: scripts/device_check.sh prepare|run" >&2
  exit 2
  ;;
esac
