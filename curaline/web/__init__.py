"""Web crawls as sources: WARC/HTML reading, main-text extraction, rights reservations, URL filters.

Kept apart from curaline.ingest, which only hooks the web formats in: each module here
is a pure function of bytes and config, so it tests alone and runs on any engine.
"""
