"""The data layer: facts, where they come from, and how a run splits them.

    facts     Fact (prompt, subject, answer, relation, topic, paraphrases), make_fact for user input
    readers   read_records: one reader for JSONL / JSON / CSV / TSV / Parquet (datasets)
    probes    the shipped probe facts and general texts (package data), topics
    rows      forget / retain rows from files, typed text or Hugging Face datasets
    splits    DataSplit: forget, retain used / held out, texts used / held out
    checks    check_facts: does the model know a fact (greedy top-1 of the answer's first token)
    wording   counted nouns in the messages people read ("1 fact", "3 facts")
"""
