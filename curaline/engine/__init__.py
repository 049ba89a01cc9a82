"""Engines run shards: the same pure task function over many shards, on one machine or a cluster.

The pipeline hands an engine a top-level function and a list of picklable tasks and
gets the results back as each task finishes; nothing else about where the work runs
leaks into the stages. `LocalEngine` is a process pool over the machine's cores; a
cluster engine (Ray: tasks and `ray.wait`) is the same three methods.
"""

from __future__ import annotations

from curaline.engine.base import ENGINE_KINDS, Engine, EngineConfig, TaskError, make_engine
from curaline.engine.local import LocalEngine

__all__ = ["ENGINE_KINDS", "Engine", "EngineConfig", "LocalEngine", "TaskError", "make_engine"]
