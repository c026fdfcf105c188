"""What a traffic light can do: its green phases and the movements each one serves.

Green phases follow RESCO's rule (states of the network's own program with no yellow that
are not all red). Each controlled link index i is a movement in_lane -> out_lane
(`trafficlight.getControlledLinks`); a phase serves link i when its state shows 'G'
(priority) or 'g' (permissive, yields). No hand-written phase pairs are needed, so the
mapping holds for every signal of every network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def is_green_state(state: str) -> bool:
    return "y" not in state and (state.count("r") + state.count("s")) != len(state)


def transition_state(cur: str, nxt: str, ch: str = "y") -> str | None:
    """RESCO create_yellows: links green in `cur` and red in `nxt` show `ch` meanwhile;
    None when no link loses its green (no yellow needed)."""
    need, out = False, []
    for a, b in zip(cur, nxt, strict=True):
        if a in "Gg" and b in "rs":
            need = True
            out.append(ch)
        else:
            out.append(a)
    return "".join(out) if need else None


@dataclass(frozen=True)
class SignalLayout:
    id: str
    #: green phase states, in the order of the network's program
    greens: tuple[str, ...]
    #: per link index: (in_lane, out_lane, via_lane), or None for an unused index
    links: tuple[tuple[str, str, str] | None, ...]

    @property
    def served(self) -> tuple[tuple[int, ...], ...]:
        """phase -> link indices it shows green ('G' or 'g')."""
        return tuple(
            tuple(i for i, c in enumerate(st) if c in "Gg" and self.links[i] is not None)
            for st in self.greens
        )

    @property
    def priority(self) -> tuple[tuple[bool, ...], ...]:
        """phase -> for each served link, whether it has priority ('G') rather than yields."""
        return tuple(
            tuple(st[i] == "G" for i in idx)
            for st, idx in zip(self.greens, self.served, strict=True)
        )

    @property
    def n_in(self) -> dict[str, int]:
        """out lane -> how many of this signal's links feed it (a shared exit is not
        subtracted once per link)."""
        counts: dict[str, int] = {}
        for link in self.links:
            if link is not None:
                counts[link[1]] = counts.get(link[1], 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "phases": [
                {"index": k, "state": st, "links": list(idx)}
                for k, (st, idx) in enumerate(zip(self.greens, self.served, strict=True))
            ],
            "links": [
                {"index": i, "in_lane": lk[0], "out_lane": lk[1]}
                for i, lk in enumerate(self.links)
                if lk is not None
            ],
        }


def from_program(
    tls_id: str, states: list[str], links: list[list[tuple[str, str, str]]]
) -> SignalLayout:
    greens: list[str] = []
    for st in states:
        if is_green_state(st) and st not in greens:
            greens.append(st)
    if not greens:
        raise ValueError(f"traffic light '{tls_id}' has no green phase in its program")
    return SignalLayout(
        id=tls_id,
        greens=tuple(greens),
        links=tuple((tuple(lk[0]) if lk else None) for lk in links),  # type: ignore[misc]
    )
