"""Unlearning methods, one module each, registered by name.

    >>> from kuda_core.forget.methods import METHODS, get_method
    >>> METHODS                                  # ('kuda', 'ga', 'gd', 'npo', 'simnpo', 'rmu')
    >>> get_method("kuda").options()             # KudaOptions(beta=10.0, ...)

A method module defines its options (a pydantic model: defaults, checks, one-line help per
option), its forget and retain terms, and registers a `base.Method`. To add a method, write a
module like `ga.py` and import it here.
"""
# registration order is the order users see: KUDA, then the baselines from simplest to RMU
from kuda_core.forget.methods import kuda  # noqa: F401, I001
from kuda_core.forget.methods import ga  # noqa: F401
from kuda_core.forget.methods import gd  # noqa: F401
from kuda_core.forget.methods import npo  # noqa: F401
from kuda_core.forget.methods import simnpo  # noqa: F401
from kuda_core.forget.methods import rmu  # noqa: F401
from kuda_core.forget.methods.base import REGISTRY, Method, Options, get_method

METHODS = tuple(REGISTRY)

__all__ = ["METHODS", "REGISTRY", "Method", "Options", "get_method"]
