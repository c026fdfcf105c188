"""Travel times over a SUMO road network: each demand point and candidate site is snapped to
its nearest road open to emergency vehicles, and the time from a site to a demand point is
the fastest path at free-flow speed (each edge's length over its speed limit), read with
sumolib. Direction matters (one-way streets): the crew drives from the site.

Points come in a CSV with columns `id`, `role` (`demand` or `site`), `latitude`,
`longitude` and `weight` (demand points; sites may leave it empty). A network without a
geographic projection takes `x` and `y` (metres in the network's own frame) instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from odlar.core.errors import DataError

ROLES = ("demand", "site")
VCLASS = "emergency"
#: a point farther than this from every road open to emergency vehicles is refused
SNAP_M = 500.0


def read_text_csv(path: Path) -> pd.DataFrame:
    """A CSV file's cells as text (checked as each column is used); an error names the file."""
    name = str(path)
    if not path.is_file():
        raise DataError("no such file", file=name)
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"not a readable CSV file ({str(exc).strip()})", file=name) from None


def read_points(path: Path, geo: bool) -> pd.DataFrame:
    """The points file, checked; errors name the file, line and column."""
    name = str(path)
    frame = read_text_csv(path)
    frame.columns = [c.strip().lower() for c in frame.columns]
    coords = ("latitude", "longitude") if geo else ("x", "y")
    need = ("id", "role", *coords, "weight")
    missing = [c for c in need if c not in frame.columns]
    if missing:
        frame_kind = "a geo-referenced network" if geo else "a network without projection"
        raise DataError(
            f"missing column(s) {', '.join(missing)} (points over {frame_kind} need "
            f"{', '.join(need)})",
            file=name,
        )
    if frame.empty:
        raise DataError("no rows", file=name)
    frame["role"] = frame["role"].str.strip().str.lower()
    _refuse(frame, ~frame["role"].isin(ROLES), name, "role", "not 'demand' or 'site'")
    _refuse(frame, frame["id"].str.strip() == "", name, "id", "empty id")
    _refuse(frame, frame.duplicated(["role", "id"]), name, "id", "given twice for this role")
    for col in coords:
        values = pd.to_numeric(frame[col], errors="coerce")
        _refuse(frame, values.isna() | ~np.isfinite(values), name, col, "not a number")
        frame[col] = values.astype(float)
    weight = pd.to_numeric(frame["weight"], errors="coerce")
    demand = frame["role"] == "demand"
    bad = demand & (weight.isna() | ~np.isfinite(weight) | (weight < 0))
    _refuse(frame, bad, name, "weight", "a demand point needs a non-negative weight")
    frame["weight"] = weight.fillna(0.0)
    for role in ROLES:
        if not (frame["role"] == role).any():
            raise DataError(f"no {role} points", file=name, field="role")
    return frame


def _refuse(frame: pd.DataFrame, bad: pd.Series, name: str, col: str, what: str) -> None:
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise DataError(f"{frame[col].iloc[i]!r}: {what}", file=name, line=i + 2, field=col)


def read_network(path: Path) -> Any:
    import sumolib

    if not path.is_file():
        raise DataError("no such file", file=str(path))
    try:
        return sumolib.net.readNet(str(path))
    except Exception as exc:  # sumolib raises the XML parser's many kinds
        raise DataError(f"not a readable SUMO network ({exc})", file=str(path)) from None


def _snap(net: Any, xy: np.ndarray, frame: pd.DataFrame, points: str) -> list[tuple[Any, float]]:
    """(edge, position along it in metres) of each point's nearest usable road."""
    from sumolib.geomhelper import polygonOffsetWithMinimumDistanceToPoint

    out = []
    for i, (x, y) in enumerate(xy):
        near = [(e, d) for e, d in net.getNeighboringEdges(x, y, SNAP_M) if e.allows(VCLASS)]
        if not near:
            raise DataError(
                f"point {frame['id'].iloc[i]!r} is more than {SNAP_M:g} m from every road "
                "open to emergency vehicles",
                file=points,
                line=int(frame.index[i]) + 2,
            )
        edge = min(near, key=lambda ed: (ed[1], ed[0].getID()))[0]
        pos = polygonOffsetWithMinimumDistanceToPoint((x, y), edge.getShape())
        # the shape's length can differ a little from the edge's: scale to the edge's
        shape_len = max(sum(np.hypot(*np.diff(np.array(edge.getShape()), axis=0).T)), 1e-9)
        out.append((edge, float(pos) * edge.getLength() / shape_len))
    return out


def travel_minutes(net_path: Path, points_path: Path) -> tuple[np.ndarray, pd.DataFrame]:
    """Free-flow minutes from every site (columns) to every demand point (rows), and the
    points frame. A pair with no path (disconnected roads) is refused, naming both."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    net = read_network(net_path)
    geo = net.hasGeoProj()
    frame = read_points(points_path, geo).reset_index(drop=True)
    if geo:
        xy = np.array([net.convertLonLat2XY(lon, lat) for lat, lon in
                       zip(frame["latitude"], frame["longitude"], strict=True)])  # fmt: skip
    else:
        xy = frame[["x", "y"]].to_numpy()
    snapped = _snap(net, xy, frame, str(points_path))
    edges = [e for e in net.getEdges() if e.allows(VCLASS)]
    index = {e.getID(): i for i, e in enumerate(edges)}
    secs = np.array([e.getLength() / max(e.getSpeed(), 0.1) for e in edges])
    # graph over edges: leaving edge i for edge j costs the time to drive all of j
    rows, cols, vals = [], [], []
    for e in edges:
        for nxt in e.getOutgoing():
            if nxt.getID() in index:
                rows.append(index[e.getID()])
                cols.append(index[nxt.getID()])
                vals.append(secs[index[nxt.getID()]] + 1e-6)  # 0 would read as no arc
    graph = csr_matrix((vals, (rows, cols)), shape=(len(edges), len(edges)))
    demand = np.flatnonzero(frame["role"] == "demand")
    sites = np.flatnonzero(frame["role"] == "site")
    site_edges = sorted({index[snapped[s][0].getID()] for s in sites})
    dist = dijkstra(graph, directed=True, indices=site_edges)  # to the end of each edge
    row_of = {e: k for k, e in enumerate(site_edges)}
    out = np.empty((len(demand), len(sites)))
    for j, s in enumerate(sites):
        se, spos = snapped[s]
        si = index[se.getID()]
        speed_s = max(se.getSpeed(), 0.1)
        for i, d in enumerate(demand):
            de, dpos = snapped[d]
            di = index[de.getID()]
            speed_d = max(de.getSpeed(), 0.1)
            if si == di and dpos >= spos:
                t = (dpos - spos) / speed_s  # ahead on the same edge
            elif si == di:  # behind on the same edge: once round a loop back onto it
                back = graph[:, si].nonzero()[0]
                loop = min((dist[row_of[si], k] + graph[k, si] for k in back), default=np.inf)
                t = (se.getLength() - spos) / speed_s + loop - (de.getLength() - dpos) / speed_d
            else:
                # rest of the site's edge, the path to the end of the demand's edge, back
                # by the part of that edge beyond the point
                t = (se.getLength() - spos) / speed_s + dist[row_of[si], di]
                t -= (de.getLength() - dpos) / speed_d
            if not np.isfinite(t):
                raise DataError(
                    f"no road path from site {frame['id'].iloc[s]!r} to demand point "
                    f"{frame['id'].iloc[d]!r} (the network is not connected there)",
                    file=str(net_path),
                )
            out[i, j] = t / 60.0
    return out, frame
