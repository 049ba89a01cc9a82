"""Learned models a stage applies, as OpenLineage input datasets.

A record dropped by a classifier is explained only if the classifier is known: which
file (its content version), trained on which sources under which licences. The quality
stage names its model this way in every run's lineage.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from openlineage.client.event_v2 import InputDataset
from openlineage.client.generated import dataset_version_dataset, documentation_dataset


def model_description(meta: dict[str, Any]) -> str:
    """One sentence naming a quality model's training sources and their licences."""
    def side(key: str) -> str:
        return ", ".join(f"{m['source']} ({m['license']}, {m.get('documents', '?')} texts)" for m in meta.get(key, [])) or "not recorded"

    return (f"Quality classifier (hashed word n-grams + logistic regression, {meta.get('recipe', 'DCLM recipe')}). "
            f"Positives: {side('positive')}. Negatives: {side('negative')}.")


def quality_model_input(emitter: Any, config: Any, kind: str = "document") -> list[InputDataset]:
    """The quality stage's model as an input dataset (none when the classifier is off, or
    for records it does not score: it scores documents)."""
    from curaline.kernels.quality_model import BUILTIN, BUILTIN_PATH, load_model

    ref = getattr(config, "quality_model", None)
    if ref is None or kind != "document":
        return []
    path = BUILTIN_PATH if ref == BUILTIN else Path(ref)
    model = load_model(ref)
    facets: dict[str, Any] = {
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=f"sha256:{model.digest}",
                                                                     producer=emitter.producer),
        "documentation": documentation_dataset.DocumentationDatasetFacet(description=model_description(model.meta),
                                                                        producer=emitter.producer),
    }  # fmt: skip
    return [InputDataset(namespace=emitter.dataset_namespace, name=emitter.dataset_name(path), facets=facets)]
