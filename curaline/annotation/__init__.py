"""Human judgements as data: agreement between annotators, adjudicated labels, review queue.

Pure NumPy/Arrow over the `raw_records` of an `annotation` source (one row per
judgement); the Dagster wiring is in `assets/annotation.py`.
"""
