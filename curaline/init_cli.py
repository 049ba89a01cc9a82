"""`curaline init DIR`: a new project an operator fills in, with one working example.

The example is small but real: one public-domain-style document source (invented text,
CC0) with a planted exact duplicate and a too-short record, so the first `curaline run`
shows a dedup merge and a quality drop in the ledger, and one research release spec.
Every file says what to change; nothing is overwritten.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from curaline.clitools import UserError

_PARAGRAPHS = [
    "The river valley was settled by farmers who grew barley and kept sheep on the higher slopes. "
    "Over several centuries they built terraces, stone walls and small mills along the main stream. "
    "Records from the parish describe good harvests in dry years and hard winters when the passes closed. "
    "Today the terraces are still used, although most families now combine farming with work in the town. "
    "Visitors walk the old mule track in spring, when the meadows below the terraces are full of flowers.",
    "A library catalogue is more useful when every entry follows the same rules for names and dates. "
    "Cataloguers therefore agree on a shared standard before they describe a new collection. "
    "The standard says how to write the author, which title to prefer and how to record the edition. "
    "Readers rarely notice this work, but they benefit from it every time a search finds the right book. "
    "Good catalogues also record where each book came from, which matters when a library lends rare items.",
    "Bread dough rises because yeast turns sugar into carbon dioxide, which is trapped by the gluten network. "
    "A warm kitchen speeds the process, while a cold room slows it down and lets more flavour develop. "
    "Many bakers leave their dough in the refrigerator overnight for exactly this reason. "
    "The result is a loaf with a darker crust, larger holes and a slightly sour taste that keeps for days. "
    "Salt is added later than the yeast, since a high concentration at the start can slow fermentation.",
    "The small observatory on the hill opens to visitors on clear evenings during the summer months. "
    "Volunteers explain how the telescope works and point it at the moon, the planets and bright star clusters. "
    "Children often ask why the stars seem to move, which leads to a short talk about the rotation of the earth. "
    "Most guests leave with a simple star chart and a plan to look at the sky again from their own garden. "
    "On cloudy nights the volunteers show photographs instead and answer questions about careers in science.",
    "Community gardens give people without a yard a place to grow vegetables, herbs and flowers together. "
    "Each member looks after a small plot, and everyone shares the tools, the compost heap and the water supply. "
    "Regular meetings decide how to handle pests, who waters during the holidays and what to plant next season. "
    "Beyond the harvest, many members say the garden is where they got to know their neighbours for the first time. "
    "The waiting list is long, so the group now helps other neighbourhoods start gardens of their own.",
]

SOURCE_MANIFEST = """\
# A source manifest: what the data is, where it lives, and under which licence it was obtained.
# Every key is documented in the curaline README ("Source manifests"); an unknown key is an error.
# Add one file per source; `curaline sources check` validates them all.
id: example-notes
description: Invented short articles (an example to replace with your own source).
location: ../corpus/example-notes/notes.jsonl   # path or glob, relative to this file
format: jsonl
kind: document
fields:            # curaline field -> the field in your records
  id: id
  text: body
license: CC0-1.0   # SPDX; a LicenseRef-* id also needs license_url
license_url: https://creativecommons.org/publicdomain/zero/1.0/
obtained: public-dataset
personal_data: none
domain: reference
languages: [en]    # records in other languages are dropped by language_checked
owner: data-team@example.com
collected: 2026-01-01
"""

RELEASE_SPEC = """\
# A release spec: which sources, for which use (the licence gate checks every record's
# licence class against it), which languages, and how to mix and split. See the README
# ("Releases"). `curaline run` builds one versioned release per spec in releases/.
name: example        # must equal the file name
description: Everything in the example project, for internal research.
use: research        # research | commercial | ... (a stricter use blocks more licences)
sources: all         # or a list of source ids
languages: [en]
quality: default     # or strict, or per-signal bounds
dedup: true
decontaminate: true
mix:
  by: domain
  weights:
    reference: 1.0
splits:
  train: 0.8
  validation: 0.1
  test: 0.1
  seed: 1
"""

CONFIG = """\
# curaline project settings (all optional; see the README "Projects").
name: {name}
# license_classes:            # map your own LicenseRef-* ids to a class
#   LicenseRef-Partner-Data: non-commercial
"""

README = """\
# {name}

A curaline project: `sources/` holds one manifest per source, `releases/` one spec per
release. Everything else (data/, lineage/, DVC and Dagster state) is written by curaline.

    curaline sources check --project {path}     # validate the manifests
    curaline run --project {path}               # run every stage, build the releases
    curaline release list --project {path}
    curaline lineage sources --project {path}

The example source `example-notes` holds five invented articles, an exact duplicate of
the first (dropped by `deduplicated` as `exact_duplicate`) and a record too short to keep
(dropped by `quality_filtered`). Replace `corpus/example-notes/` and
`sources/example-notes.yaml` with your own data, or add manifests beside it.
"""


def example_records() -> list[dict[str, str]]:
    """The example corpus: five articles, a duplicate of the first, one too-short note."""
    records = [{"id": f"note-{i + 1}", "body": text} for i, text in enumerate(_PARAGRAPHS)]
    records.append({"id": "note-6", "body": _PARAGRAPHS[0]})
    records.append({"id": "note-7", "body": "Too short to keep."})
    return records


def init_project(root: Path) -> list[Path]:
    """Write the example project under `root` (which must be empty or absent); the files written."""
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise UserError(f"{root} exists and is not an empty folder: curaline init writes a new project")
    files = {
        root / "sources" / "example-notes.yaml": SOURCE_MANIFEST,
        root / "releases" / "example.yaml": RELEASE_SPEC,
        root / "corpus" / "example-notes" / "notes.jsonl": "".join(json.dumps(r) + "\n" for r in example_records()),
        root / "curaline.yaml": CONFIG.format(name=root.name),
        root / "README.md": README.format(name=root.name, path=root),
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def init(directory: Path) -> None:
    """Create a new project in DIRECTORY: one example source and one release spec, documented.

    The folder must be new or empty. Edit the files it writes (each says what its keys
    mean), then `curaline run --project DIRECTORY`.
    """
    root = directory.expanduser().resolve()
    written = init_project(root)
    click.echo(f"curaline init: new project in {root}")
    for path in written:
        click.echo(f"  {path.relative_to(root)}")
    click.echo("\nNext:")
    click.echo(f"  curaline sources check --project {root}")
    click.echo(f"  curaline run --project {root}")
