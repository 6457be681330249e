"""What the UI and the CLI both call: data choices, runs as typed records, summaries to show.

    data       DataChoice (what a user picked) -> build_split -> DataSplit
    runs       RunRecord, iter_run (a Forget run that keeps its records), run_config_of (-> run.json)
    summaries  prompts to compare, the answers table, the drift summary
"""
