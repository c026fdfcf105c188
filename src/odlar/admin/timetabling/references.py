"""Published costs of the ITC 2007 track 3 instances (UD2), each with where it was read.

Four tables, each traced to a document read for issue 20:

- `LITERATURE`: the best known costs as compiled in Ceschia, Di Gaspero and Schaerf,
  "Educational timetabling: problems, benchmarks, and state-of-the-art results", European
  Journal of Operational Research 304(1), 2023, Table 13 (arXiv:2201.07525). Read
  second-hand: the paper itself was not reachable here; the figures are as copied from it in
  github huguryildiz/course-timetabling @ a65acac, `benchmarks/run_itc2007.py`, whose list
  has no comp03 and no comp11. They agree with every first-hand figure below (a test).
- `WINNER`: T. Müller's submitted results to ITC 2007 (best of 100 runs per instance,
  comp01-comp14), Table 4 top of his solver description ("ITC2007 solver description: a
  hybrid approach"), `doc/itc2007.pdf` in github tomas-muller/cpsolver-itc2007.
- `FINALS`: the best score of each of the five finalists over the organisers' 10 runs on
  all 21 instances, Table 4 bottom of the same document (from the competition website).
- `OPEN_SOLVER`: the open solver's hour-long runs in `admin/itc2007-cct/README.md`
  (github Docheinstein/itc2007-cct), comp01-comp07.

The best known cost of an instance is the lowest of these. Lower bounds: only comp11's is
traced, and trivially (the cost is a sum of non-negative penalties, so 0 is optimal); the
literature's bounds (Lach and Lübbecke 2012, Hao and Benlic 2011, later papers) could not be
read in this session.
"""

from __future__ import annotations

from dataclasses import dataclass

INSTANCES = tuple(f"comp{i:02d}" for i in range(1, 22))

LITERATURE_SOURCE = (
    "Ceschia, Di Gaspero, Schaerf, EJOR 304(1) 2023, Table 13 (arXiv:2201.07525),"
    " as copied in huguryildiz/course-timetabling@a65acac benchmarks/run_itc2007.py"
)
WINNER_SOURCE = (
    "ITC 2007 winner T. Müller, submitted best of 100 runs: solver description Table 4 top "
    "(tomas-muller/cpsolver-itc2007 doc/itc2007.pdf)"
)
FINALS_SOURCE = (
    "ITC 2007 finals, best of the organisers' 10 runs: solver description Table 4 bottom "
    "(tomas-muller/cpsolver-itc2007 doc/itc2007.pdf)"
)
OPEN_SOURCE = (
    "open solver Docheinstein/itc2007-cct, ~1 h runs (admin/itc2007-cct/README.md, solutions/)"
)

LITERATURE = {
    "comp01": 5, "comp02": 24, "comp04": 35, "comp05": 284, "comp06": 27, "comp07": 6,
    "comp08": 37, "comp09": 96, "comp10": 4, "comp12": 294, "comp13": 59, "comp14": 51,
    "comp15": 62, "comp16": 18, "comp17": 56, "comp18": 61, "comp19": 57, "comp20": 4,
    "comp21": 74,
}  # fmt: skip
WINNER = dict(  # comp01-comp14: the early and late instances, the ones submitted
    zip(INSTANCES[:14], (5, 43, 72, 35, 298, 41, 14, 39, 103, 9, 0, 331, 66, 53), strict=True)
)
FINALS = {
    "T. Müller": (5, 51, 84, 37, 330, 48, 20, 41, 109, 16, 0,
                  333, 66, 59, 84, 34, 83, 83, 62, 27, 103),
    "Z. Lu et al.": (5, 55, 71, 43, 309, 53, 28, 49, 105, 21, 0,
                     343, 73, 57, 71, 39, 91, 69, 65, 47, 106),
    "M. Atsuta et al.": (5, 50, 82, 35, 312, 69, 42, 40, 110, 27, 0,
                         351, 68, 59, 82, 40, 102, 68, 75, 61, 123),
    "M. Geiger": (5, 111, 128, 72, 410, 100, 57, 77, 150, 71, 0,
                  442, 622, 90, 128, 81, 124, 116, 107, 88, 174),
    "M. Clark et al.": (10, 111, 119, 72, 426, 130, 110, 83, 139, 85, 3,
                        408, 113, 84, 119, 84, 152, 110, 111, 144, 169),
}  # fmt: skip
OPEN_SOLVER = {
    "comp01": 5, "comp02": 36, "comp03": 66, "comp04": 37, "comp05": 305, "comp06": 40,
    "comp07": 14,
}  # fmt: skip
# proved optimal; why, in words
OPTIMAL = {"comp11": "cost 0 is reached and no cost is below 0 (a sum of penalties)"}


@dataclass(frozen=True)
class Figure:
    """One published cost of one instance."""

    method: str
    cost: int
    source: str


def figures(name: str) -> list[Figure]:
    """Every traced published cost of `name`, the literature's first (it wins a tie)."""
    if name not in INSTANCES:
        return []
    i = INSTANCES.index(name)
    out = []
    if name in LITERATURE:
        out.append(Figure(f"best known {name}", LITERATURE[name], LITERATURE_SOURCE))
    if name in WINNER:
        out.append(Figure(f"ITC 2007 winner {name}", WINNER[name], WINNER_SOURCE))
    who = min(FINALS, key=lambda f: FINALS[f][i])
    out.append(Figure(f"ITC 2007 finals best {name} ({who})", FINALS[who][i], FINALS_SOURCE))
    if name in OPEN_SOLVER:
        out.append(Figure(f"open solver {name}", OPEN_SOLVER[name], OPEN_SOURCE))
    return out


@dataclass(frozen=True)
class BestKnown:
    instance: str
    cost: int
    method: str  # which figure it is ("best known comp05", "open solver comp03", ...)
    source: str
    lower_bound: int | None  # None: no bound traced
    lower_bound_source: str | None


def best_known(name: str) -> BestKnown | None:
    """The lowest traced cost of a competition instance (None for any other instance)."""
    got = figures(name)
    if not got:
        return None
    best = min(got, key=lambda f: f.cost)  # min keeps the first of equals
    why = OPTIMAL.get(name)
    return BestKnown(name, best.cost, best.method, best.source, best.cost if why else None, why)
