"""Preference pairs: pair-level validation, the statistics an alignment team reads before
training, and exports in the formats training libraries consume."""
