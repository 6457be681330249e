"""Data files shipped with the engine: probe facts (probes.jsonl) and general texts (general_texts.jsonl)."""
