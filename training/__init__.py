"""Retraining the critic: datasets, SFT/GRPO jobs, job queue, worker, model registry."""
