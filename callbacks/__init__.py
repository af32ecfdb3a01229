"""Importing this package registers every callback (module level @callback, one module per feature).

Dash moves module-level callbacks into the first app it sets up and clears its global lists, so a
second app in the same process (tests, several workers) would have none: `ensure_registered()`
puts a copy back before each app is built.
"""
from dash import _callback

from callbacks import briefings, dispatch, drill, feeds, map, overview, shell, wall  # noqa: F401

_REGISTERED = (
    list(_callback.GLOBAL_CALLBACK_LIST),
    dict(_callback.GLOBAL_CALLBACK_MAP),
    list(_callback.GLOBAL_INLINE_SCRIPTS),
)


def ensure_registered() -> None:
    callbacks, callback_map, scripts = _REGISTERED
    for item in callbacks:
        if item not in _callback.GLOBAL_CALLBACK_LIST:
            _callback.GLOBAL_CALLBACK_LIST.append(item)
    for key, value in callback_map.items():
        _callback.GLOBAL_CALLBACK_MAP.setdefault(key, value)
    for script in scripts:
        if script not in _callback.GLOBAL_INLINE_SCRIPTS:
            _callback.GLOBAL_INLINE_SCRIPTS.append(script)
