"""Pandera models of the release shards: the contract the training team codes against."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from curaline.licenses import CLASSES
from curaline.release.spec import SPLITS, TRAINING_KINDS
from curaline.schemas import DOC_ID_PATTERN


class ReleaseRow(pa.DataFrameModel):
    """Columns every release row carries, whatever its kind."""

    doc_id: str = pa.Field(str_matches=DOC_ID_PATTERN, description="the record's stable id (trace it with `curaline lineage trace`)")
    source_id: str = pa.Field(description="the source manifest id")
    kind: str = pa.Field(isin=list(TRAINING_KINDS), description="document, instruction or preference")
    license: str = pa.Field(str_length={"min_value": 1}, description="SPDX licence expression of the record")
    license_class: str = pa.Field(isin=list(CLASSES), description="the licence reduced to its class")
    language: str = pa.Field(description="ISO 639-1 language from the language stage")
    domain: str = pa.Field(description="the source's declared domain (the mix groups by it)")
    url: str | None = pa.Field(nullable=True, description="the page URL, for crawled documents")
    split: str = pa.Field(isin=list(SPLITS), description="train, validation or test (duplicates share one)")
    n_tokens: int = pa.Field(ge=0, description="pre-tokenizer tokens: words and punctuation marks")
    repeat: pl.Int16 = pa.Field(ge=0, description="0 for a record's first row; >0 for upsampled copies (train only)")

    class Config:
        strict = True


class ReleaseDocument(ReleaseRow):
    text: str = pa.Field(str_length={"min_value": 1}, description="the document text")


class ReleaseInstruction(ReleaseRow):
    prompt: str = pa.Field(str_length={"min_value": 1}, description="the instruction")
    context: str | None = pa.Field(nullable=True, description="optional input/context")
    response: str = pa.Field(str_length={"min_value": 1}, description="the answer")


class ReleasePreference(ReleaseRow):
    prompt: str = pa.Field(str_length={"min_value": 1}, description="the prompt")
    chosen: str = pa.Field(str_length={"min_value": 1}, description="the preferred response")
    rejected: str = pa.Field(str_length={"min_value": 1}, description="the dispreferred response")
    margin: float | None = pa.Field(nullable=True, description="rank gap or score difference, when the source has one")
    group: str | None = pa.Field(nullable=True, description="the prompt/conversation the pair came from")


RELEASE_MODELS: dict[str, type[ReleaseRow]] = {
    "document": ReleaseDocument,
    "instruction": ReleaseInstruction,
    "preference": ReleasePreference,
}
