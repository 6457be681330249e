"""The model layer: everything about one causal LM that the method steps share.

    network       offline defaults (imported first, before any Hugging Face library)
    device        the one place that picks a device and a dtype
    architectures module names per model family (GPT-2, Llama family) as data
    loading       load_model -> LoadedModel (hub id, folder, .gguf, "default")
    hooks         capture / edit module inputs and outputs; hooks always removed
    snapshot      keep the few weights an edit changes; bit-exact restore
    tokens        encoding, subject ranges, padding, length-sorted batches
    logprobs      per-token log-probabilities, perplexity
    generation    greedy continuations and next-token statistics (one prompt or a batch)
    tiny          tiny random GPT-2 / Llama models for tests
    turns         points where a long job lets other jobs on a shared model go first
"""
