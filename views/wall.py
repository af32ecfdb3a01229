"""The wall (/wall): the board (follows the data version) and the pulse (follows the clock)."""
from __future__ import annotations

from indicators import wall
from views.cache import view


@view("wall.board")
def wall_board(store, pack, scope) -> dict:
    return wall.wall_board(store, pack, scope)


@view("wall.pulse", rhythm_s=1.0)
def wall_pulse(store, settings) -> dict:
    return wall.wall_pulse(store, settings)
