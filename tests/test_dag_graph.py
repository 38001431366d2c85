"""The DAG drawn as a graph: its layout (no overlaps, edges joining their boxes, fewer
crossings than the definition order) and the run screen's graph view (toggle with the
list keeping the selection, following the running tasks in a 200-task run)."""

from __future__ import annotations

import asyncio
import random

from conftest import wait_for
from deeptui import OrchestrationConfig, TaskOrchestrator
from deeptui.app import DeeptuiApp
from deeptui.models import RetryConfig, TaskDefinition, TaskStatus, WorkflowDefinition
from deeptui.screens.run import RunScreen
from deeptui.visualize.layered import DOWN, MAX_SPAN, UP, GraphLayout, layout
from textual.geometry import Region


def random_layers(n_layers: int, width: int, seed: int) -> dict[str, list[str]]:
    """``n_layers`` layers of ``width`` tasks; each task past the first layer needs 1-3
    tasks of the layers above (so some edges skip layers)."""
    rng = random.Random(seed)
    dag: dict[str, list[str]] = {}
    earlier: list[str] = []
    for layer in range(n_layers):
        ids = [f"L{layer}-{i}" for i in range(width)]
        for tid in ids:
            dag[tid] = sorted(rng.sample(earlier[-2 * width:], min(len(earlier), rng.randint(1, 3)))) if earlier else []
        earlier += ids
    return dag


def crossings_of(lay: GraphLayout, dag: dict[str, list[str]], by_definition: bool = False) -> int:
    """Edge pairs between neighbouring layers that cross, with the layout's order of boxes
    or (``by_definition``) with the order the tasks were defined in."""
    index = {tid: n for n, tid in enumerate(dag)}
    at = (lambda tid: index[tid]) if by_definition else (lambda tid: lay.boxes[tid].x)
    pairs = [(p, c) for c, deps in dag.items() for p in deps
             if lay.boxes[c].layer == lay.boxes[p].layer + 1]
    return sum(1 for i, (p1, c1) in enumerate(pairs) for p2, c2 in pairs[i + 1:]
               if lay.boxes[p1].layer == lay.boxes[p2].layer
               and (at(p1) - at(p2)) * (at(c1) - at(c2)) < 0)


def test_no_two_boxes_overlap():
    lay = layout(random_layers(6, 7, seed=3))
    for layer in lay.layers:
        spans = sorted((box.x, box.x + box.width) for box in layer)
        assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:]))
        passing = {x for x, _ in lay.passes[layer[0].layer]}
        assert not any(box.x <= x < box.x + box.width for box in layer for x in passing)
    assert len(lay.boxes) == 42 and all(box.x + box.width <= lay.width for box in lay.boxes.values())


def test_every_edge_joins_its_two_boxes():
    dag = random_layers(6, 7, seed=3)
    lay = layout(dag)
    drawn = 0
    for e, (parent, child) in enumerate(lay.edges):
        top, bottom = lay.boxes[parent], lay.boxes[child]
        if bottom.layer - top.layer > MAX_SPAN:
            continue
        drawn += 1
        x = top.port  # follow the edge down, channel by channel
        for n in range(top.layer, bottom.layer):
            if n > top.layer:
                assert (x, e) in lay.passes[n]  # it passes through layer n at its column
            seg = next(s for s in lay.channels[n] if s.edge == e)
            assert seg.top == x
            rows = lay.channel_cells(n, {e})
            assert rows[0][seg.top] & UP and rows[-1][seg.bottom] & DOWN  # drawn joined at both ends
            x = seg.bottom
        assert x == bottom.port
    assert drawn == len(dag_edges(dag)) > 0


def dag_edges(dag: dict[str, list[str]]) -> list[tuple[str, str]]:
    return [(p, c) for c, deps in dag.items() for p in deps]


def test_an_edge_too_long_to_draw_is_counted_on_its_boxes():
    chain = {f"c{i}": [f"c{i - 1}"] if i else [] for i in range(MAX_SPAN + 3)}
    chain["last"] = ["c0", f"c{MAX_SPAN + 2}"]
    lay = layout(chain)
    assert lay.boxes["c0"].far_out == 1 and lay.boxes["last"].far_in == 1


def test_the_order_has_fewer_crossings_than_the_definition_order():
    crossed = {"a0": [], "a1": [], "a2": [], "b0": ["a2"], "b1": ["a1"], "b2": ["a0"],
               "c0": ["b2"], "c1": ["b0"]}
    lay = layout(crossed)
    assert crossings_of(lay, crossed, by_definition=True) == 4
    assert crossings_of(lay, crossed) == 0
    dag = random_layers(5, 6, seed=7)
    lay = layout(dag)
    assert crossings_of(lay, dag) < crossings_of(lay, dag, by_definition=True)


# -- the run screen -------------------------------------------------------------


def gated_app() -> tuple[DeeptuiApp, dict[str, asyncio.Event]]:
    gates: dict[str, asyncio.Event] = {}

    async def gated(task, parameters, deps):
        await gates.setdefault(task.id, asyncio.Event()).wait()
        return task.id

    orch = TaskOrchestrator(config=OrchestrationConfig(simulated_latency=(0.0, 0.0)))
    orch.register_callable("gated", gated)
    return DeeptuiApp(orchestrator=orch), gates


def gated_workflow(dag: dict[str, list[str]], parallel: int = 8) -> WorkflowDefinition:
    tasks = [TaskDefinition(id=t, task_type="callable", depends_on=deps, parameters={"callable": "gated"},
                            retry_config=RetryConfig(max_retries=0)) for t, deps in dag.items()]
    return WorkflowDefinition(id="graph", name="Graph", tasks=tasks, max_parallel_tasks=parallel)


async def open_run(pilot, app: DeeptuiApp, wf: WorkflowDefinition) -> RunScreen:
    run_id = app.start_run(wf)
    await wait_for(pilot, lambda: isinstance(app.screen, RunScreen) and app.screen.run_id == run_id
                   and bool(app.screen.query("#dag")))
    return app.screen


async def test_toggling_graph_and_list_keeps_the_selected_task():
    app, gates = gated_app()
    dag = {"fetch": [], "upload": [], "parse": ["fetch"], "notify": ["upload"], "report": ["parse", "notify"]}
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, app, gated_workflow(dag))
        assert screen.dag.mode == "graph" and screen.selected == "fetch"
        await pilot.press("right", "down")  # upload, then the nearest box below it: notify
        assert screen.selected == "notify"
        await pilot.press("g")
        await pilot.pause()
        assert screen.dag.mode == "list" and screen.dag.list.display and not screen.dag.graph.display
        assert screen.dag.list.selected == "notify" and screen.selected == "notify"
        await pilot.press("down")  # in the list: the next line's task
        moved = screen.selected
        assert moved not in (None, "notify")
        await pilot.press("g")
        await pilot.pause()
        assert screen.dag.mode == "graph" and screen.dag.graph.selected == moved
        await wait_for(pilot, lambda: screen.log_view.task_id == moved)  # details follow it
        gates_open = [gates.setdefault(t, asyncio.Event()) for t in dag]
        for gate in gates_open:
            gate.set()


async def test_following_the_frontier_keeps_a_running_task_in_view_in_a_200_task_run():
    app, gates = gated_app()
    dag = {f"s{layer:02d}-{i}": ([f"s{layer - 1:02d}-{(i + 3) % 10}"] if layer else [])
           for layer in range(20) for i in range(10)}  # 20 layers of 10, each on one above
    order = list(dag)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_run(pilot, app, gated_workflow(dag, parallel=1))
        graph = screen.dag.graph
        results = screen.state.task_results

        def running() -> str | None:
            return next((t for t in order if results[t].status is TaskStatus.RUNNING), None)

        def in_view(task_id: str) -> bool:
            x, y = graph.scroll_offset
            view = Region(x, y, graph.scrollable_content_region.width, graph.scrollable_content_region.height)
            return view.contains_region(graph.box_region(task_id))

        seen: list[tuple[str, bool]] = []  # after each batch: (first running task, in view)
        apply_batch = screen.apply_batch

        def apply_and_look(batch) -> None:
            apply_batch(batch)
            if (task_id := running()) is not None:
                seen.append((task_id, in_view(task_id)))

        screen.apply_batch = apply_and_look  # type: ignore[method-assign]

        async def advance(steps: int) -> None:
            for _ in range(steps):
                await wait_for(pilot, lambda: running() is not None)
                current, batches = running(), screen.batches
                gates.setdefault(current, asyncio.Event()).set()
                await wait_for(pilot, lambda: results[current].status is TaskStatus.COMPLETED
                               and screen.batches > batches)

        await advance(45)  # not following: the view stays where it was
        assert not all(shown for _, shown in seen)
        await pilot.press("F")
        assert "following" in str(screen.dag.border_title)
        seen.clear()
        await advance(100)
        assert len(seen) >= 50 and all(shown for _, shown in seen), [t for t, shown in seen if not shown]
        assert order.index(seen[-1][0]) > 140  # the frontier went down 14 layers, the view with it
        screen.app.orchestrator.cancel_workflow(screen.run_id)


async def test_a_big_graph_is_laid_out_in_a_thread_and_then_drawn():
    from deeptui.widgets.dag_graph import LAYOUT_IN_THREAD_OVER

    app, gates = gated_app()
    n = LAYOUT_IN_THREAD_OVER + 500
    dag = {f"t{i:05d}": ([f"t{i - 1:05d}"] if i % 10 else []) for i in range(n)}  # chains of 10
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await open_run(pilot, app, gated_workflow(dag, parallel=4))
        graph = screen.dag.graph
        await wait_for(pilot, lambda: graph.geometry is not None, timeout=60)
        assert len(graph.geometry.boxes) == n and len(graph.geometry.layers) == 10
        await pilot.pause()
        assert "t00000" in graph.render_line(1).text  # the first box's label row
        await pilot.press("down", "right")
        assert screen.selected == "t00011"  # t00001's chain, one layer down
        screen.app.orchestrator.cancel_workflow(screen.run_id)
