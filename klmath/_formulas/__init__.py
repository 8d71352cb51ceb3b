"""Private: klmath's closed forms, one module per family of formulas.

Importing this package registers every formula with :mod:`klmath.registry` (by
class *name*, so nothing here imports torch); the registry imports none of them.
Each module derives its formulas in its docstring:

* :mod:`~klmath._formulas.gaussian`: normal, half-normal, multivariate and low-rank normal;
* :mod:`~klmath._formulas.discrete`: Bernoulli/binomial, Poisson, geometric, categorical;
* :mod:`~klmath._formulas.gamma_beta`: gamma/exponential, beta, Dirichlet;
* :mod:`~klmath._formulas.location_scale`: Laplace, Cauchy, half-Cauchy, Gumbel, uniform,
  Pareto, continuous Bernoulli (same-family pairs);
* :mod:`~klmath._formulas.cross`: pairs of different continuous families;
* :mod:`~klmath._formulas.structural`: ``Independent`` and ``TransformedDistribution``.

:mod:`~klmath._formulas._params` maps torch and scipy objects onto the canonical
parameters the formulas take; :mod:`~klmath._formulas._careful` holds the
non-negative building blocks they are sums of.
"""

from klmath._formulas import (  # noqa: F401
    cross,
    discrete,
    gamma_beta,
    gaussian,
    location_scale,
    structural,
)
