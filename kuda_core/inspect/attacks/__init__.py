"""Is it really gone? Checks that try to bring a forgotten fact back.

    prompts   prompt attacks: paraphrases, k-shot prefixes of the same relation, question formats
    relearn   fine-tune on half the forgotten facts, measure the other half, against a control
    lens      logit lens: the answer's rank decoded from the residual stream after every layer
"""
