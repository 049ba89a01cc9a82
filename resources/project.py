"""The project folder as a Dagster resource: every path an asset uses derives from it."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from curaline.project import Project
from curaline.sources import ManifestError, SourceManifest, load_manifests, parse_manifest


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
        for path in (self.project.sources_dir / f"{source_id}.yaml", self.project.sources_dir / f"{source_id}.yml"):
            if path.exists():
                try:
                    return parse_manifest(path)
                except ManifestError as err:
                    raise dg.Failure(description=f"invalid manifest for source {source_id!r}:\n{err}") from None
        raise dg.Failure(
            description=f"no valid manifest for source {source_id!r} in {self.project.sources_dir}; "
            "run `curaline sources check` to see why"
        )
