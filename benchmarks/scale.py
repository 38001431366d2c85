"""100,000 tasks from a workflow file: time per phase and peak memory of fresh processes.

Writes a layered DAG of N no-op tasks (``task_type: callable``, ``callable: noop``,
the built-in no-op) as a JSON file, one task per line, then:

  phases    one fresh process, timed phase by phase: load (parse + models + graph
            checks), validate (the orchestrator's checks), run (the engine with the
            SQLite history on, the CLI's configuration: a hybrid cache, which the
            built-in no-op skips), store flush (closing the store: the writer's
            backlog), and its peak RSS
  cli run   ``deeptui run FILE --headless`` (output to /dev/null, a fresh history
            database and cache directory): wall time, CPU time (user + system, which
            other processes on a shared machine disturb less) and peak RSS
  history   ``deeptui history show RUN`` of that run (output to /dev/null): wall time
            and peak RSS

Run: ``python benchmarks/scale.py [--n 100000] [--repeat 2] [--json PATH]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _dags import layered, machine, table, write_json

RUN_TARGET_S = 10.0
RSS_TARGET_MB = 1536.0

PHASES = r"""
import asyncio, json, resource, sys, time
start = time.perf_counter()
cpu = time.process_time
from deeptui.loader import load_workflow
from deeptui.settings import Settings, build_orchestrator
from deeptui.store import RunStore
marks = {"import": time.perf_counter() - start}
t = time.perf_counter(); wf = load_workflow(sys.argv[1]); marks["load"] = time.perf_counter() - t
store = RunStore(sys.argv[2])
orch = build_orchestrator(Settings(cache="hybrid", cache_dir=sys.argv[3]), store=store)
t = time.perf_counter(); orch.validate(wf); marks["validate"] = time.perf_counter() - t
t = time.perf_counter(); state = asyncio.run(orch.execute_workflow(wf, run_id="scale@bench"))
marks["run"] = time.perf_counter() - t
assert len(state.completed_tasks) == len(wf.tasks), state.status
t = time.perf_counter(); orch.close(); store.close(); marks["store flush"] = time.perf_counter() - t
marks["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
marks["cpu total"] = cpu()
print(json.dumps(marks))
"""

TIMED = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
         "p = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, "
         "text=True); t = time.perf_counter() - t; u = resource.getrusage(resource.RUSAGE_CHILDREN); "
         "print(p.returncode, t, u.ru_maxrss, u.ru_utime + u.ru_stime, repr(p.stderr[-300:]))")


def write_file(path: Path, n: int) -> None:
    """The layered DAG as compact JSON, one task a line (a 100,000-task file is ~12 MB)."""
    dag = layered(n)
    with path.open("w", encoding="utf-8") as out:
        out.write('{"id": "scale", "name": "scale", "max_parallel_tasks": 8, "tasks": [\n')
        for i, (task, deps) in enumerate(dag.items()):
            entry = {"id": task, "task_type": "callable", "parameters": {"callable": "noop"}}
            if deps:
                entry["depends_on"] = deps
            out.write(("," if i else "") + json.dumps(entry, separators=(",", ":")) + "\n")
        out.write("]}\n")


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """(seconds, peak RSS MB, CPU seconds) of a command in a fresh process, output to
    /dev/null."""
    out = subprocess.run([sys.executable, "-c", TIMED, *argv], env=env, capture_output=True,
                         text=True, check=True).stdout.split(maxsplit=4)
    if out[0] != "0":
        raise SystemExit(f"{' '.join(argv[2:])} failed (exit {out[0]}): {out[4]}")
    return float(out[1]), int(out[2]) / 1024, float(out[3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    root = Path(__file__).resolve().parent.parent
    samples: dict[str, list[float]] = {}

    def note(name: str, value: float) -> None:
        samples.setdefault(name, []).append(value)

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "scale.json"
        write_file(path, args.n)
        print(f"{path.name}: {args.n} tasks, {path.stat().st_size / 2**20:.1f} MB",
              file=sys.stderr)
        for rep in range(args.repeat):
            home = tmp / f"home{rep}"
            env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1",
                   "XDG_DATA_HOME": str(home / "data"), "XDG_CACHE_HOME": str(home / "cache"),
                   "XDG_CONFIG_HOME": str(home / "config"), "XDG_STATE_HOME": str(home / "state"),
                   "DEEPTUI_DB": str(home / "runs.db")}
            out = subprocess.run([sys.executable, "-c", PHASES, str(path),
                                  str(home / "phases.db"), str(home / "phase-cache")],
                                 cwd=root, env=env, capture_output=True, text=True)
            if out.returncode:
                raise SystemExit(out.stderr[-2000:])
            for name, value in json.loads(out.stdout.splitlines()[-1]).items():
                note(name, value)
            cli = [sys.executable, "-m", "deeptui.cli"]
            seconds, rss, cpu = timed([*cli, "run", str(path), "--headless", "--run-id",
                                       "cli@bench"], env)
            note("cli run", seconds)
            note("cli run cpu", cpu)
            note("cli run rss", rss)
            seconds, rss, cpu = timed([*cli, "history", "show", "cli@bench"], env)
            note("history show", seconds)
            note("history show cpu", cpu)
            note("history show rss", rss)
            print("  " + "  ".join(f"{k} {v[-1]:.2f}" for k, v in samples.items()),
                  file=sys.stderr)
    med = {k: statistics.median(v) for k, v in samples.items()}
    rows = [[f"phases: {k}", f"{med[k]:.2f} s", "", ""]
            for k in ("import", "load", "validate", "run", "store flush")]
    rows.append(["phases: CPU time, all phases", f"{med['cpu total']:.2f} s", "", ""])
    rows.append(["phases: peak RSS", f"{med['rss']:.0f} MB", "", ""])
    rows.append(["`deeptui run FILE --headless`", f"{med['cli run']:.2f} s",
                 f"< {RUN_TARGET_S:g} s", "ok" if med["cli run"] < RUN_TARGET_S else "MISSED"])
    rows.append(["`deeptui run` CPU time (user + system)", f"{med['cli run cpu']:.2f} s",
                 f"< {RUN_TARGET_S:g} s", "ok" if med["cli run cpu"] < RUN_TARGET_S else "MISSED"])
    rows.append(["`deeptui run` peak RSS", f"{med['cli run rss']:.0f} MB",
                 f"< {RSS_TARGET_MB:g} MB", "ok" if med["cli run rss"] < RSS_TARGET_MB else "MISSED"])
    rows.append(["`deeptui history show RUN`", f"{med['history show']:.2f} s", "", ""])
    rows.append(["`history show` CPU time", f"{med['history show cpu']:.2f} s", "", ""])
    rows.append(["`history show` peak RSS", f"{med['history show rss']:.0f} MB", "", ""])
    print(f"{args.n} no-op tasks from a file, medians of {args.repeat} - {machine()['date']}")
    print(table(["figure", "value", "target", ""], rows))
    write_json(args.json, "scale", {"n": args.n, "median": med, "samples": samples,
                                    "machine": machine()})


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)
