"""Verification of a transferred upper limit on a lab's own healthy samples (CLSI EP28-A3c):
:func:`verify_limit`, which scores expression data when needed; the statistics are
:func:`ifnscore._intervals.transference`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from . import _intervals as iv
from ._intervals import LimitVerification
from ._limits import Limit, check_value
from ._reference import Reference
from ._score import score
from ._warn import warn
from .errors import IfnscoreWarning, InputError

__all__ = ["LimitVerification", "verify_limit"]


def verify_limit(
    limit: Any,
    data: Any,
    *,
    signature: str | None = None,
    expected_outside: float = 0.025,
    max_fraction: float = 0.10,
    **score_options: Any,
) -> LimitVerification:
    r"""Verify a transferred upper limit on a lab's own healthy samples (CLSI EP28-A3c).

    EP28-A3c accepts a reference interval taken from elsewhere (a publication, another lab)
    when no more than 2 of 20 new healthy reference samples (10 %) fall outside it. With
    3 or 4 outside, it asks for 20 more samples; with more, the limit does not transfer.

    Parameters
    ----------
    limit
        The limit to verify: a number (e.g. 12.49, or Rice's 2.466), a
        :class:`~ifnscore.Reference` (its classifying upper limit; ``signature=`` picks one
        when it holds several), or a reference's ``Limit``.
    data
        The new healthy samples: their scores (1-D array, list or pandas Series; the index
        names the samples), or expression data scored here with
        ``ifnscore.score(data, reference=limit, signature=signature, **score_options)``
        (then ``limit`` must be a Reference).
    signature
        Which of the reference's signatures, when it holds several.
    expected_outside
        Fraction of healthy samples expected at or above a correct upper limit (0.025 for a
        97.5th percentile); used only for ``p_value``.
    max_fraction
        Fraction allowed outside: 0.10 (2 of 20, EP28). ``max_outside = floor(max_fraction n)``.
    **score_options
        Passed to :func:`ifnscore.score` when ``data`` is expression.

    Returns
    -------
    LimitVerification
        ``n``, ``n_outside`` (scores ``>=`` the limit, as :func:`ifnscore.score` classifies
        them positive), ``accepted``, ``p_value``, the samples outside and EP28's next step.

    Raises
    ------
    ifnscore.errors.InputError
        ``limit`` is not a finite number, a Reference or a Limit; ``signature`` is missing
        or unknown for a reference with several; ``expected_outside`` or ``max_fraction`` is
        out of range; ``data`` holds no finite score, or is expression without a Reference.

    Warns
    -----
    ifnscore.errors.IfnscoreWarning
        With fewer than 20 samples (EP28 uses 20).

    Examples
    --------
    >>> import ifnscore
    >>> v = ifnscore.verify_limit(12.49, [5.1, 6.0, 7.2, 5.5, 6.3, 4.9, 8.1, 6.6, 5.8, 7.0,
    ...                                   6.2, 5.9, 13.0, 6.4, 5.3, 7.7, 6.9, 5.6, 6.1, 9.0])
    >>> v.n, v.n_outside, v.accepted
    (20, 1, True)
    """
    ref = limit if isinstance(limit, Reference) else None
    if ref is not None:
        if signature is None:
            if len(ref.signatures) != 1:
                raise InputError(
                    f"limit= is a reference with signatures {list(ref.signatures)}; pass signature=."
                )
            signature = next(iter(ref.signatures))
        if signature not in ref.signatures:
            raise InputError(
                f"signature={signature!r} is not in the reference (it holds {list(ref.signatures)})."
            )
        value = ref.signatures[signature].upper_limit.value
    elif isinstance(limit, Limit):
        value = check_value(limit.value, arg="limit")
    elif isinstance(limit, int | float | np.integer | np.floating) and not isinstance(limit, bool):
        value = check_value(limit, arg="limit")
    else:
        raise InputError(
            f"limit= must be a number, an ifnscore.Reference or a Limit, got {type(limit).__name__}."
        )
    if not 0 < expected_outside < 1:
        raise InputError(
            f"expected_outside={expected_outside!r} must lie strictly between 0 and 1."
        )
    if not 0 <= max_fraction < 1:
        raise InputError(f"max_fraction={max_fraction!r} must lie in [0, 1).")

    scores = _as_scores(data)
    if scores is None:
        if ref is None:
            raise InputError(
                "data= is expression data, which needs a Reference to be scored: pass "
                "limit=reference (from ifnscore.calibrate), or pass the scores themselves."
            )
        res = score(data, signature=signature, reference=ref, **score_options)
        if res is None or not isinstance(res, pd.DataFrame):
            raise InputError("data= as AnnData: pass its scores (adata.obs[key]) instead.")
        scores = res["score"]
    elif score_options:
        raise InputError(f"Options {sorted(score_options)} apply only when data= is expression.")
    values = scores.to_numpy(dtype=np.float64)
    if values.size == 0 or not np.all(np.isfinite(values)):
        raise InputError("data= must hold at least one score, all finite (no NaN or inf).")
    n = values.size
    if n < 20:
        warn(
            f"Verifying a limit on {n} samples; CLSI EP28-A3c uses 20 healthy samples.",
            IfnscoreWarning,
        )
    return iv.transference(
        values,
        float(value),
        [str(s) for s in scores.index],
        expected_outside=expected_outside,
        max_fraction=max_fraction,
    )


def _as_scores(data: Any) -> pd.Series | None:
    """1-D scores as a Series (index = sample names), or None for expression data."""
    if isinstance(data, pd.Series):
        return data
    if isinstance(data, pd.DataFrame) or hasattr(data, "obs") or hasattr(data, "tocsr"):
        return None
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if arr.ndim != 1:
        return None
    return pd.Series(arr, index=pd.RangeIndex(arr.size).astype(str))
