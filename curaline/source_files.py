"""What `sources check` says about a valid manifest's files: the input it would actually read.

A manifest can be valid and still read nothing: its location matches no file (a typo, a
folder not mounted), a file is empty, a symlink dangles or points outside the ingest
roots. Ingest quarantines each of these at run time; `sources check` says so before.
"""

from __future__ import annotations

from curaline.safe_paths import source_file_problem
from curaline.sources import Problem, SourceManifest


def file_findings(manifest: SourceManifest) -> tuple[list[Problem], list[Problem]]:
    """(problems, warnings) about the files the manifest's location matches now."""
    file = str(manifest.path)
    problems: list[Problem] = []
    warnings: list[Problem] = []
    files = manifest.files()
    if not files or (len(files) == 1 and not files[0].exists() and not files[0].is_symlink()):
        problems.append(Problem(file, "location", f"{manifest.location!r} matches no file"))
        return problems, warnings
    for path in files:
        problem = source_file_problem(path, manifest.ingest_roots)
        if problem:
            (warnings if "dangling" in problem else problems).append(Problem(file, "location", problem))
            continue
        try:
            size = path.stat().st_size
        except OSError as exc:
            warnings.append(Problem(file, "location", f"{path}: cannot be read ({exc.strerror})"))
            continue
        if size == 0:
            warnings.append(Problem(file, "location", f"{path} is empty: the source reads 0 records from it"))
    return problems, warnings
