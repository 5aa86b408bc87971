"""What a saved notebook keeps of each Player where no front end runs (nbclient, ``jupyter
nbconvert --execute``): the kernel brings a Player's ``snapshot`` (the tail of the text at its
cursor) and its output's markdown fallback up to date after each cell that moved the cursor.

Where a front end runs, it keeps the snapshot on the model itself (``js/src/player_saved.ts``)
at no cost to the kernel: once any Player's front end has asked for text in this kernel, the
kernel stops doing it. The snapshot's cut is ``player_text.snapshot``.
"""

from __future__ import annotations

import weakref
from typing import Protocol


class Saved(Protocol):
    def _save_cursor(self) -> None: ...


#: Players the kernel keeps up to date (while no front end has spoken).
_watched: weakref.WeakSet[Saved] = weakref.WeakSet()
_state = {"front_end_seen": False, "hooked": False}


def front_end_spoke() -> None:
    """A Player's front end asked for text: it keeps the snapshots from now on."""
    _state["front_end_seen"] = True
    _watched.clear()


def front_end_seen() -> bool:
    return _state["front_end_seen"]


def watch(player: Saved) -> None:
    """Bring ``player``'s saved state up to date after each cell, until a front end speaks
    (IPython only: elsewhere there is no notebook to save)."""
    if _state["front_end_seen"]:
        return
    _watched.add(player)
    if not _state["hooked"]:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            shell.events.register("post_execute", after_cell)
            _state["hooked"] = True


def after_cell() -> None:
    """IPython's ``post_execute``: still inside the cell's request, so nbclient saves it."""
    for player in list(_watched):
        player._save_cursor()
