"""A stand-in `vllm` package for tests of code that starts vLLM's server (the stub answers like the real one)."""
