"""The layered drawing of a DAG: layers, order within layers, box positions and edge routes.

Pure geometry (no Rich, no Textual), computed once per workflow; the app's graph
view (`widgets/dag_graph.py`) draws it with the statuses of the moment. Layers
are networkx's ``topological_generations`` (top to bottom); an edge that skips
layers passes through one-cell "dummy" columns in the layers between, so every
drawn edge joins neighbouring layers; a few barycenter sweeps (down, then up)
order each layer to reduce crossings, and the best order seen is kept. Edges
between two layers run in a channel of rows: down from the parent's port, along
a track, down into the child's port; edges of one parent share a track, tracks
are assigned so that spans do not overlap (at most ``MAX_TRACKS`` rows: beyond
that spans share rows and meet in junctions). An edge spanning more than
``MAX_SPAN`` layers (or beyond the dummy budget of a huge graph) is not routed:
its two boxes show it as a count (``↓2`` under the parent, ``↑2`` over the child).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx

BOX_ROWS = 3  # top border, label, bottom border
MAX_LABEL = 18  # cells of the task id shown in a box (cut with …)
MAX_TRACKS = 3
MAX_SPAN = 4  # layers an edge may span and still be drawn
SWEEPS = 4
GAP = 2  # cells between two boxes of a layer

UP, DOWN, LEFT, RIGHT = 1, 2, 4, 8
LINE_CHARS = {
    UP: "│", DOWN: "│", UP | DOWN: "│", LEFT: "─", RIGHT: "─", LEFT | RIGHT: "─",
    DOWN | RIGHT: "╭", DOWN | LEFT: "╮", UP | RIGHT: "╰", UP | LEFT: "╯",
    UP | DOWN | RIGHT: "├", UP | DOWN | LEFT: "┤", DOWN | LEFT | RIGHT: "┬",
    UP | LEFT | RIGHT: "┴", UP | DOWN | LEFT | RIGHT: "┼",
}  # fmt: skip


@dataclass(slots=True)
class Box:
    """One task's box: its layer, left column, width (borders included) and label."""

    task_id: str
    layer: int
    x: int
    width: int
    label: str
    far_in: int = 0  # edges from more than MAX_SPAN layers above, not drawn
    far_out: int = 0

    @property
    def port(self) -> int:
        return self.x + self.width // 2


@dataclass(slots=True)
class Segment:
    """A drawn edge's part in one channel: from column ``top`` to column ``bottom`` via ``track``."""

    edge: int  # index into GraphLayout.edges
    top: int
    bottom: int
    track: int


@dataclass
class GraphLayout:
    """Where everything is: boxes by layer (left to right), pass-through columns, channels."""

    layers: list[list[Box]]
    passes: list[list[tuple[int, int]]]  # (column, edge) where long edges pass through each layer
    channels: list[list[Segment]]  # channels[n]: between layer n and n + 1
    heights: list[int]  # rows of each channel
    edges: list[tuple[str, str]]  # (parent, child) of every edge, drawn or not
    width: int
    boxes: dict[str, Box] = field(default_factory=dict)
    in_edges: dict[str, list[int]] = field(default_factory=dict)  # edge indexes into each task
    out_edges: dict[str, list[int]] = field(default_factory=dict)
    drawn_in: set[str] = field(default_factory=set)  # tasks with a drawn edge coming in
    drawn_out: set[str] = field(default_factory=set)
    xs: list[list[int]] = field(default_factory=list)  # each layer's box columns (for bisect)

    def __post_init__(self) -> None:
        self.boxes = {box.task_id: box for layer in self.layers for box in layer}
        self.in_edges = {tid: [] for tid in self.boxes}
        self.out_edges = {tid: [] for tid in self.boxes}
        drawn = {seg.edge for channel in self.channels for seg in channel}
        for e, (parent, child) in enumerate(self.edges):
            self.out_edges[parent].append(e)
            self.in_edges[child].append(e)
            if e in drawn:
                self.drawn_out.add(parent)
                self.drawn_in.add(child)
        self.xs = [[box.x for box in layer] for layer in self.layers]

    def channel_cells(self, n: int, edges: set[int] | None = None) -> list[dict[int, int]]:
        """Channel ``n`` as rows of {column: direction bits}, only the ``edges`` given (all if None)."""
        rows: list[dict[int, int]] = [{} for _ in range(self.heights[n])]
        last = len(rows) - 1
        for seg in self.channels[n]:
            if edges is not None and seg.edge not in edges:
                continue
            if seg.top == seg.bottom:
                for row in rows:
                    row[seg.top] = row.get(seg.top, 0) | UP | DOWN
                continue
            t = seg.track
            for r in range(t):
                rows[r][seg.top] = rows[r].get(seg.top, 0) | UP | DOWN
            for r in range(t + 1, last + 1):
                rows[r][seg.bottom] = rows[r].get(seg.bottom, 0) | UP | DOWN
            row = rows[t]
            lo, hi = sorted((seg.top, seg.bottom))
            for x in range(lo + 1, hi):
                row[x] = row.get(x, 0) | LEFT | RIGHT
            going_right = seg.bottom > seg.top
            row[seg.top] = row.get(seg.top, 0) | UP | (RIGHT if going_right else LEFT)
            row[seg.bottom] = row.get(seg.bottom, 0) | DOWN | (LEFT if going_right else RIGHT)
        return rows


def box_label(task_id: str) -> str:
    return task_id if len(task_id) <= MAX_LABEL else task_id[: MAX_LABEL - 1] + "…"


def layout(tasks: Mapping[str, Sequence[str]]) -> GraphLayout:
    """Lay out ``tasks`` (id -> the ids it depends on, in definition order)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(tasks)
    edges = [(dep, tid) for tid, deps in tasks.items() for dep in deps]
    graph.add_edges_from(edges)
    index = {tid: n for n, tid in enumerate(tasks)}
    generations = [sorted(gen, key=index.__getitem__) for gen in nx.topological_generations(graph)]
    layer_of = {tid: n for n, gen in enumerate(generations) for tid in gen}

    # long edges become chains of dummies (tuples), within a budget; others are "far"
    order: list[list[object]] = [list(gen) for gen in generations]
    up: dict[object, list[object]] = {tid: [] for tid in tasks}
    down: dict[object, list[object]] = {tid: [] for tid in tasks}
    chains: list[list[object] | None] = []  # per edge: the nodes it passes, ends included
    budget = 2 * len(tasks) + 100
    far_in: dict[str, int] = {}
    far_out: dict[str, int] = {}
    spans = sorted(range(len(edges)), key=lambda e: layer_of[edges[e][1]] - layer_of[edges[e][0]])
    chains = [None] * len(edges)
    for e in spans:
        parent, child = edges[e]
        span = layer_of[child] - layer_of[parent]
        if span > MAX_SPAN or (span > 1 and budget < span - 1):
            far_out[parent] = far_out.get(parent, 0) + 1
            far_in[child] = far_in.get(child, 0) + 1
            continue
        budget -= span - 1
        chain: list[object] = [parent]
        for layer in range(layer_of[parent] + 1, layer_of[child]):
            dummy = (e, layer)
            order[layer].append(dummy)
            up[dummy], down[dummy] = [], []
            chain.append(dummy)
        chain.append(child)
        for a, b in zip(chain, chain[1:]):
            down[a].append(b)
            up[b].append(a)
        chains[e] = chain

    order = _reduce_crossings(order, up, down)
    widths = {node: (len(box_label(node)) + 4 if isinstance(node, str) else 1)
              for layer in order for node in layer}
    xs = _positions(order, up, widths)
    width = max((xs[node] + widths[node] for layer in order for node in layer), default=0)

    layers = [[Box(node, n, xs[node], widths[node], box_label(node), far_in.get(node, 0),
                   far_out.get(node, 0)) for node in layer if isinstance(node, str)]
              for n, layer in enumerate(order)]
    passes = [sorted((xs[node], node[0]) for node in layer if not isinstance(node, str))  # type: ignore[index]
              for layer in order]
    port = {node: xs[node] + widths[node] // 2 for layer in order for node in layer}
    channels: list[list[Segment]] = [[] for _ in range(max(0, len(order) - 1))]
    for e, chain in enumerate(chains):
        if chain is None:
            continue
        for a, b in zip(chain, chain[1:]):
            layer = layer_of[a] if isinstance(a, str) else a[1]  # type: ignore[index]
            channels[layer].append(Segment(e, port[a], port[b], 0))
    heights = [_assign_tracks(segs) for segs in channels]
    for layer in layers:
        layer.sort(key=lambda box: box.x)
    return GraphLayout(layers, passes, channels, heights, edges, width)


def _assign_tracks(segments: list[Segment]) -> int:
    """Give each port's bent segments one track (they leave it together); the channel's rows."""
    spans: dict[int, list[int]] = {}
    for seg in segments:
        if seg.top != seg.bottom:
            lo, hi = sorted((seg.top, seg.bottom))
            span = spans.setdefault(seg.top, [lo, hi])
            span[0], span[1] = min(span[0], lo), max(span[1], hi)
    track_end: list[int] = []  # rightmost column used by each track
    track_of: dict[int, int] = {}
    for port, (lo, hi) in sorted(spans.items(), key=lambda item: item[1][0]):
        free = next((t for t, end in enumerate(track_end) if end < lo - 1), None)
        if free is None:
            if len(track_end) < MAX_TRACKS:
                track_end.append(hi)
                free = len(track_end) - 1
            else:  # share the row that frees up first
                free = min(range(len(track_end)), key=track_end.__getitem__)
        track_end[free] = max(track_end[free], hi)
        track_of[port] = free
    for seg in segments:
        seg.track = track_of.get(seg.top, 0)
    return max(1, len(track_end))


def _reduce_crossings(order: list[list[object]], up: dict, down: dict) -> list[list[object]]:
    """Barycenter sweeps; the order with the fewest crossings seen (counted on small graphs)."""
    count = sum(map(len, order)) <= 4000
    best, best_crossings = [list(layer) for layer in order], crossings(order, down) if count else 0
    for sweep in range(SWEEPS):
        going_down = sweep % 2 == 0
        layers = range(1, len(order)) if going_down else range(len(order) - 2, -1, -1)
        for n in layers:
            near = order[n - 1] if going_down else order[n + 1]
            pos = {node: i for i, node in enumerate(near)}
            links = up if going_down else down
            current = {node: i for i, node in enumerate(order[n])}

            def bary(node: object) -> float:
                linked = links[node]
                if not linked:
                    return float(current[node])
                return sum(pos[m] for m in linked) / len(linked)

            order[n] = sorted(order[n], key=lambda node: (bary(node), current[node]))
        if count:
            found = crossings(order, down)
            if found < best_crossings:
                best, best_crossings = [list(layer) for layer in order], found
    return best if count else order


def crossings(order: list[list[object]], down: Mapping) -> int:
    """How many pairs of edges between neighbouring layers cross, for this order."""
    total = 0
    for upper, lower in zip(order, order[1:]):
        pos = {node: i for i, node in enumerate(lower)}
        ends = [pos[child] for node in upper for child in sorted(
            (c for c in down.get(node, ()) if c in pos), key=pos.__getitem__)]
        tree = [0] * (len(lower) + 1)  # Fenwick: how many ends seen so far at each position
        for seen, end in enumerate(ends):
            i, not_greater = end + 1, 0
            while i > 0:
                not_greater += tree[i]
                i -= i & -i
            total += seen - not_greater
            i = end + 1
            while i <= len(lower):
                tree[i] += 1
                i += i & -i
    return total


def _positions(order: list[list[object]], up: dict, widths: dict) -> dict[object, int]:
    """Left columns: each layer packed (boxes ``GAP`` apart, pass-throughs 1), then slid as a
    whole so its mean port sits under its parents' mean port, within the widest layer."""
    packed: list[int] = []
    xs: dict[object, int] = {}
    for layer in order:
        end = 0
        for node in layer:
            xs[node] = end
            end += widths[node] + (GAP if isinstance(node, str) else 1)
        packed.append(max(0, end - GAP))
    full = max(packed, default=0)
    for n, layer in enumerate(order):
        ports = [xs[node] + widths[node] // 2 for node in layer]
        parents = [xs[p] + widths[p] // 2 for node in layer for p in up[node]] if n else []
        if parents:
            shift = round(sum(parents) / len(parents) - sum(ports) / len(ports))
        else:
            shift = (full - packed[n]) // 2
        shift = max(0, min(full - packed[n], shift))
        for node in layer:
            xs[node] += shift
    return xs
