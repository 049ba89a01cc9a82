"""The project folder as a Dagster resource: every path an asset uses derives from it."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from curaline.project import Project
from curaline.sources import SourceManifest, load_manifests


class ProjectResource(dg.ConfigurableResource):
    """Where the project lives; assets never build paths from the working directory."""

    root: str = Field(description="the project folder (sources/, releases/, data/)")

    @property
    def project(self) -> Project:
        return Project.at(self.root)

    def manifests(self) -> list[SourceManifest]:
        manifests, _ = load_manifests(self.project.sources_dir, strict=False)
        return manifests

    def manifest(self, source_id: str) -> SourceManifest:
        for m in self.manifests():
            if m.id == source_id:
                return m
        raise dg.Failure(
            description=f"no valid manifest for source {source_id!r} in {self.project.sources_dir}; "
            "run `curaline sources check` to see why"
        )
