"""Step 2 of the method: forget. The unlearning loop, its methods, and the null-space projection.

    config      UnlearnConfig (shared settings + the method's options), StepRecord
    methods/    one module per method (KUDA, GA, GD, NPO, SimNPO, RMU), registered by name
    objectives  the losses as pure tensor functions
    replay      cached residual streams: replay only the trained layers
    nullspace   key covariance, relaxed null-space projectors (and their cache)
    context     StepContext: what the steps of one run share
    setup       build_context: tokenize, cache, project (before the first step)
    loop        iter_unlearn: the generator of step records
    tuning      two-stage tuning of KUDA (tau, then beta)
"""
