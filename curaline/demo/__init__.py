"""The embedded demo project: a small corpus with known defects, built from a seed.

It exercises every curation stage end to end, and its ground truth says what each
stage should find, so the demo doubles as an accuracy check.
"""

from __future__ import annotations

from curaline.demo.project import DemoSummary, generate_demo_project

__all__ = ["DemoSummary", "generate_demo_project"]
