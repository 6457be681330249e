"""Step 1 of the method: where does the model store a fact? Causal tracing and the layer suggestion.

    config     TraceConfig, TraceResult, restore windows
    inputs     prompt tokens, subject range, answer, embedding noise (shared by both paths)
    runner     hand-run halves of each block with a K/V prefix (what the fast path builds on)
    fast       the fast tracing path (clean and corrupted runs once, then only what each cell changes)
    reference  the plain per-cell algorithm (ROME), the ground truth for tests and the bench
    tracing    iter_trace / trace: the entry point (fast path, reference as fallback)
    average    ROME's average indirect effect over many facts
    suggest    layer scores and the suggested window of layers to edit
    estimate   run-time estimate shown before a trace
"""
