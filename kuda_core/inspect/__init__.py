"""Step 3 of the method: inspect. Before / after answers, metrics, drift and the null space.

    compare           original vs unlearned answers (text, p and rank of the answer, top-k, coherence)
    evaluate          probe accuracy, perplexity and benchmarks before and after, as one table
    coherence         is an answer still language? (perplexity under the original model, repetition)
    drift             per-layer representation drift, KRD, a shared PCA view
    nullspace_report  spectrum, null dimension and measured leak of each edited layer
    benchmarks/       multiple choice (WMDP / MMLU format) and MUSE-style metrics
"""
