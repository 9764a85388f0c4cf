"""Read-only containers for result metadata that pandas need not copy.

pandas deep-copies ``DataFrame.attrs`` whenever it makes a new frame from an old one: every
column selected, every ``.loc``, every ``concat``. A result of 50 signatures carries ~1,300
gene-match records in ``attrs["ifnscore"]``; deep-copying them on each column access cost
~50 ms, so reading every signature's score column took seconds. The bulky, never-edited
parts of the metadata (gene lists, match records, notes) are therefore stored in
:class:`ConstList` / :class:`ConstDict`: a ``list`` / ``dict`` in every respect that reads
(equality, JSON, ``isinstance``), refusing every change (so sharing one object between the
copies is safe), whose deep copy is itself. The per-signature and top-level dictionaries stay
plain dicts, so a user may still set e.g. ``attrs["ifnscore"]["signatures"][s]["upper_limit"]``.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["ConstDict", "ConstList", "freeze"]


def _refuse(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
    kind = "list" if isinstance(self, list) else "dict"
    raise TypeError(
        f"this part of a result's attrs['ifnscore'] is read-only (a record of what was scored); "
        f"copy it first, e.g. {kind}(...), to change it."
    )


class _Const:
    """What both read-only containers share: a copy (deep or not) is the object itself, and a
    pickle rebuilds it from its plain contents."""

    __slots__ = ()
    _plain: type = object

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self

    def __copy__(self) -> Any:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._plain(self),))  # type: ignore[call-arg]


class ConstList(_Const, list):  # type: ignore[type-arg]
    """A list that cannot be changed; ``copy.deepcopy`` returns it as is."""

    __slots__ = ()
    _plain = list
    append = extend = insert = remove = pop = clear = sort = reverse = _refuse
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse


class ConstDict(_Const, dict):  # type: ignore[type-arg]
    """A dict that cannot be changed; ``copy.deepcopy`` returns it as is."""

    __slots__ = ()
    _plain = dict
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse


def freeze(obj: Any) -> Any:
    """``obj`` with every list/tuple made a :class:`ConstList` and every dict a
    :class:`ConstDict`, recursively (other values as they are: strings, numbers, None)."""
    if isinstance(obj, ConstList | ConstDict):
        return obj
    if isinstance(obj, dict):
        return ConstDict({k: freeze(v) for k, v in obj.items()})
    if isinstance(obj, list | tuple):
        return ConstList(freeze(v) for v in obj)
    return obj
