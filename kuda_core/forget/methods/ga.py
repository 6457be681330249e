"""GA: gradient ascent on the forget answers (minimise −NLL(answer | prompt)); no retain term."""
from __future__ import annotations

from kuda_core.forget import objectives as obj
from kuda_core.forget.context import deviation, drift_only
from kuda_core.forget.methods.base import Method, NoOptions, register
from kuda_core.forget.methods.common import output_loss_defaults, sequence_logp


def forget_term(ctx, cached):
    seq, lengths, v = sequence_logp(ctx, cached)
    return obj.ga_loss(seq, lengths), deviation(v, cached, cached.batch.focus)


GA = register(Method(
    name="ga", title="GA", description="gradient ascent on the forget answers (the model is pushed to make them unlikely)",
    options=NoOptions, forget_term=forget_term, retain_term=drift_only, shared_defaults=output_loss_defaults(),
))
