"""Process-level tuning of long-running processes (the web server and the load test that stands in for it)."""

from __future__ import annotations

import gc


def freeze_startup_heap() -> None:
    """Exempt everything allocated so far (imports, models, caches) from garbage collection; call once started.

    A full collection walks every tracked object: in a server that has loaded torch, transformers and gradio
    it stops all of the process's threads for tens to hundreds of milliseconds, and if one of them holds the
    SQLite write turn meanwhile, every writer of every process waits too, which shows up as the slowest saves'
    latency (bench/annotations.py reports the p99). Frozen objects are
    never collected, which is what start-up objects are anyway; forked children share their memory pages
    instead of copying them when a collection would have touched them (as the gc module's documentation
    recommends before fork).
    """
    gc.collect()
    gc.freeze()
