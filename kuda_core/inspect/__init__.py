"""Step 3 of the method: inspect. Before / after answers, metrics, drift and the null space.

    compare           original vs unlearned answers (text, p and rank of the answer, top-k, fluency)
    evaluate          probe accuracy, perplexity and benchmarks before and after, as one table
    fluency           is an answer still fluent and does it fit its prompt? (validated on hand labels)
    drift             per-layer representation drift, KRD, a shared PCA view
    nullspace_report  spectrum, null dimension and measured leak of each edited layer
    benchmarks/       multiple choice (WMDP / MMLU format) and MUSE-style metrics
"""
