"""Dagster resources: the project (paths, config) and, later, lineage, DVC, policy."""

from resources.project import ProjectResource

__all__ = ["ProjectResource"]
