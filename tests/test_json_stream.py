"""`--format json` of a big run and `history show --format json` write their task list
streamed: the text is exactly what ``json.dumps(document, indent=2)`` gives."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

from deeptui.cli.json_stream import write_document

HOSTILE = ["", "plain", 'quo"te', "back\\slash", "new\nline\ttab", "\x1b[31mred\x07",
           "ünï cödé ✓ 中文 😀", "</script>", "\u2028\u2029"]


def streamed(document: dict, key: str, **kwargs: object) -> str:
    out = io.StringIO()
    write_document(out, {k: (None if k == key else v) for k, v in document.items()}, key,
                   iter(document[key]), **kwargs)
    return out.getvalue()


def test_a_streamed_document_is_the_text_json_dumps_writes() -> None:
    tasks = [{"id": text, "status": "completed", "attempts": i, "duration_seconds": i / 7,
              "error": None if i % 2 else text, "cached": bool(i % 3), "big": 10**20, "f": [1.0, float("nan")][i % 2] if i else float("-inf"),
              "nested": {"a": [1, {"b": text}], "c": []} if i == 4 else None}
             for i, text in enumerate(HOSTILE)]
    document = {"run_id": "r\x1b1", "status": "cancelled", "error": None, "score": -0.0, "odd": [float("nan"), float("inf"), -float("inf"), 1e300, 2**70],
                "summary": {"when": datetime(2026, 1, 1, tzinfo=UTC), "n": [1, 2]},
                "tasks": tasks, "saved": True}
    assert streamed(document, "tasks", default=str) == \
        json.dumps(document, indent=2, default=str) + "\n"
    for few in ([], [{}], [{"id": "only"}]):
        small = {"tasks": few, "after": 1}
        assert streamed(small, "tasks") == json.dumps(small, indent=2) + "\n"
    assert streamed({"tasks": []}, "tasks") == json.dumps({"tasks": []}, indent=2) + "\n"


def test_a_document_of_100000_tasks_is_written_a_chunk_at_a_time() -> None:
    writes: list[int] = []

    class Out(io.StringIO):
        def write(self, text: str) -> int:
            writes.append(len(text))
            return super().write(text)

    out = Out()
    tasks = ({"id": f"t{i:06d}", "status": "completed"} for i in range(100_000))
    write_document(out, {"run_id": "big", "tasks": None}, "tasks", tasks)
    document = json.loads(out.getvalue())
    assert len(document["tasks"]) == 100_000 and document["tasks"][-1]["id"] == "t099999"
    assert max(writes) < 100_000  # no write holds the whole list
