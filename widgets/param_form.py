"""`ParamForm`: a form generated from a pydantic parameters model, validated with that model.

Field kinds: text Input for str, Input(type="integer"/"number") for int and
float, Switch for bool, Select for a Literal, a checklist (``[x]``/``[ ]`` items) for
a list of Literals, a comma-separated Input for other lists of scalars, a multi-line
JSON editor (TextArea) for dicts and lists of objects. A field's label is its
``Field(title=...)`` or its name in words; its description wraps under it.
``validated()`` returns the model instance or None, showing each error under its
field (and highlighting the field); a shown error goes as soon as the field is fixed.
``values`` prefills the form (the last values used, see `deeptui.last_values`).
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input, Label, Select, SelectionList, Static, Switch, TextArea

from deeptui.visualize.safe_text import text as safe


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the annotation without None/Annotated, whether None is allowed)."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        return (args[0] if len(args) == 1 else annotation), optional
    return annotation, False


@dataclass
class FieldSpec:
    name: str
    kind: str  # text, int, float, bool, choice, choices, list, json
    optional: bool
    choices: tuple[Any, ...] = ()

    @classmethod
    def of(cls, name: str, info: FieldInfo) -> FieldSpec:
        annotation, optional = _unwrap(info.annotation)
        origin = typing.get_origin(annotation)
        if annotation is bool:
            return cls(name, "bool", optional)
        if annotation is int:
            return cls(name, "int", optional)
        if annotation is float:
            return cls(name, "float", optional)
        if origin is Literal:
            return cls(name, "choice", optional, typing.get_args(annotation))
        if origin in (list, tuple, set, frozenset):
            item, _ = _unwrap((typing.get_args(annotation) or (Any,))[0])
            if typing.get_origin(item) is Literal:
                return cls(name, "choices", optional, typing.get_args(item))
            if item in (str, int, float):
                return cls(name, "list", optional)
            return cls(name, "json", optional)
        if annotation is str:
            return cls(name, "text", optional)
        return cls(name, "json", optional)


def _default(info: FieldInfo) -> Any:
    if info.is_required():
        return None
    return info.get_default(call_default_factory=True)


def field_title(name: str, info: FieldInfo) -> str:
    """The words a field is labelled with: its ``title``, else its name humanised."""
    if info.title:
        return info.title
    words = name.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:] if words else name


class CheckList(SelectionList[Any]):
    """A SelectionList whose items read ``[x] name`` / ``[ ] name``: checked and unchecked
    differ by more than colour."""

    def __init__(self, choices: tuple[Any, ...], chosen: set[Any], *, id: str) -> None:
        self.choices = choices
        super().__init__(*[(self._prompt(c, c in chosen), c, c in chosen) for c in choices],
                         id=id, compact=True)

    @staticmethod
    def _prompt(choice: Any, checked: bool) -> Any:
        return safe(f"{'[x]' if checked else '[ ]'} {choice}")  # a Text: [x] is not markup

    def mark(self) -> None:
        """Rewrite each item's box after a change."""
        for index, choice in enumerate(self.choices):
            self.replace_option_prompt_at_index(index, self._prompt(choice, choice in self.selected))


class ParamForm(VerticalScroll):
    """One labelled input per field of ``model``."""

    DEFAULT_CSS = """
    ParamForm { height: 1fr; }
    ParamForm .field { height: auto; margin-bottom: 1; padding: 0 1; border-left: tall $panel; }
    ParamForm .field.-invalid { border-left: tall $error; background: $error 10%; }
    ParamForm .field-name { text-style: bold; }
    ParamForm .field-help { color: $text-muted; width: 1fr; }
    ParamForm .field-error { color: $error; text-style: bold; display: none; width: 1fr; }
    ParamForm .field.-invalid .field-error { display: block; }
    ParamForm Switch { width: auto; }
    ParamForm Input, ParamForm Select { margin: 0 0 0 1; background: $boost; }
    ParamForm Input:focus { background: $primary 20%; }
    ParamForm SelectionList { height: auto; max-height: 8; }
    ParamForm TextArea { height: auto; min-height: 3; max-height: 10; margin: 0 0 0 1; }
    """

    class Changed(Message):
        """A value in the form changed."""

    def __init__(self, model: type[BaseModel], *, id: str | None = None,
                 values: dict[str, Any] | None = None) -> None:
        super().__init__(id=id)
        self.model = model
        self.values = values or {}  # shown instead of the defaults (the last values used)
        self.specs = {name: FieldSpec.of(name, info) for name, info in model.model_fields.items()}

    def compose(self) -> ComposeResult:
        if not self.specs:
            yield Label("This template takes no parameters.", classes="field-help")
        for name, info in self.model.model_fields.items():
            spec = self.specs[name]
            with Vertical(classes="field", id=f"field-{name}"):
                required = " (required)" if info.is_required() else ""
                yield Label(safe(f"{field_title(name, info)}{required}"), classes="field-name")
                if info.description:  # a Static: it wraps between words
                    yield Static(safe(info.description), classes="field-help")
                yield self._input(spec, self.values.get(name, _default(info)))
                yield Label("", classes="field-error", id=f"error-{name}")

    def _input(self, spec: FieldSpec, default: Any) -> Widget:
        wid = f"param-{spec.name}"
        if spec.kind == "bool":
            return Switch(value=bool(default), id=wid)
        if spec.kind == "choice":
            options = [(str(c), c) for c in spec.choices]
            value = default if default in spec.choices else Select.BLANK
            return Select(options, value=value, allow_blank=spec.optional or value is Select.BLANK,
                          id=wid, compact=True)
        if spec.kind == "choices":
            chosen = set(default) if isinstance(default, list | tuple | set) else set()
            return CheckList(spec.choices, chosen, id=wid)
        if spec.kind in ("int", "float"):
            text = "" if default is None else str(default)
            return Input(text, type="integer" if spec.kind == "int" else "number", id=wid,
                         compact=True)
        if spec.kind == "list":
            text = ", ".join(str(v) for v in default) if isinstance(default, list) else ""
            return Input(text, placeholder="comma-separated values", id=wid, compact=True)
        if spec.kind == "json":
            text = "" if default is None else json.dumps(default, indent=2, ensure_ascii=False)
            return TextArea(text, id=wid, compact=True, placeholder="JSON", soft_wrap=True)
        return Input("" if default is None else str(default), id=wid, compact=True)

    # -- values -----------------------------------------------------------

    def set_value(self, name: str, value: Any) -> None:
        """Set a field's widget (for tests and presets): text for inputs, the value otherwise."""
        widget = self.query_one(f"#param-{name}")
        if isinstance(widget, Input):
            widget.value = str(value)
        elif isinstance(widget, TextArea):
            widget.text = str(value)
        elif isinstance(widget, SelectionList):
            widget.deselect_all()
            for item in value:
                widget.select(item)
        elif isinstance(widget, Switch | Select):
            widget.value = value

    def raw_values(self) -> tuple[dict[str, Any], dict[str, str]]:
        """(values to validate, errors found while reading the widgets)."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for name, spec in self.specs.items():
            widget = self.query_one(f"#param-{name}")
            if isinstance(widget, Switch):
                values[name] = widget.value
            elif isinstance(widget, Select):
                if widget.value is not Select.BLANK:
                    values[name] = widget.value
                elif spec.optional:
                    values[name] = None
            elif isinstance(widget, SelectionList):
                values[name] = [c for c in spec.choices if c in widget.selected]
            elif isinstance(widget, Input | TextArea):
                text = (widget.text if isinstance(widget, TextArea) else widget.value).strip()
                if not text:
                    if spec.optional:
                        values[name] = None
                    elif spec.kind == "list":
                        values[name] = []
                    elif spec.kind == "text":
                        values[name] = ""
                    else:
                        errors[name] = "a value is required"
                elif spec.kind == "list":
                    values[name] = [part.strip() for part in text.split(",") if part.strip()]
                elif spec.kind == "json":
                    try:
                        values[name] = json.loads(text)
                    except ValueError as exc:
                        errors[name] = f"not valid JSON: {exc}"
                else:
                    values[name] = text
        return values, errors

    def check(self) -> tuple[BaseModel | None, dict[str, str]]:
        """(the validated model or None, the errors by field), nothing shown."""
        values, errors = self.raw_values()
        result: BaseModel | None = None
        try:
            result = self.model.model_validate(values)
        except ValidationError as exc:
            for error in exc.errors():
                loc = [str(p) for p in error.get("loc", ())]
                name = loc[0] if loc else ""
                message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
                if len(loc) > 1:
                    message = f"item {'.'.join(loc[1:])}: {message}"
                if name in self.specs:
                    errors.setdefault(name, message)
                elif errors == {} and self.specs:
                    errors[next(iter(self.specs))] = message
        return (None if errors else result), errors

    def validated(self, *, show: bool = True) -> BaseModel | None:
        """The validated model, or None; with ``show`` the errors appear under their fields."""
        result, errors = self.check()
        if show:
            self.show_errors(errors)
        return result

    def show_errors(self, errors: dict[str, str], *, scroll: bool = True) -> None:
        for name in self.specs:
            field = self.query_one(f"#field-{name}")
            label = self.query_one(f"#error-{name}", Label)
            message = errors.get(name)
            field.set_class(message is not None, "-invalid")
            label.update(safe(f"✗ {message}") if message else "")  # holds what was typed
        if errors and scroll:
            first = next(name for name in self.specs if name in errors)
            self.query_one(f"#field-{first}").scroll_visible()

    @property
    def errors(self) -> dict[str, str]:
        """The errors shown now (field -> message)."""
        return {name: str(self.query_one(f"#error-{name}", Label).content).removeprefix("✗ ")
                for name in self.specs if self.query_one(f"#field-{name}").has_class("-invalid")}

    def recheck(self, name: str) -> None:
        """A field changed: if it shows an error, show its new one, or none once it is fixed
        (other fields' messages stay as they are until the next Run)."""
        if name not in self.specs or not self.query_one(f"#field-{name}").has_class("-invalid"):
            return
        shown = self.errors
        _, errors = self.check()
        if name in errors:
            shown[name] = errors[name]
        else:
            shown.pop(name, None)
        self.show_errors(shown, scroll=False)

    def json_values(self) -> dict[str, Any] | None:
        """The values as JSON (to remember them), or None when they are not valid."""
        model, _ = self.check()
        return None if model is None else model.model_dump(mode="json")

    # -- change notifications ----------------------------------------------------

    def _changed(self, widget: Widget | None) -> None:
        wid = widget.id if widget is not None else None
        if wid and wid.startswith("param-"):
            self.recheck(wid.removeprefix("param-"))
        self.post_message(self.Changed())

    def on_input_changed(self, event: Input.Changed) -> None:
        self._changed(event.input)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        self._changed(event.text_area)

    def on_switch_changed(self, event: Switch.Changed) -> None:
        self._changed(event.switch)

    def on_select_changed(self, event: Select.Changed) -> None:
        self._changed(event.select)

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged) -> None:
        if isinstance(event.selection_list, CheckList):
            event.selection_list.mark()
        self._changed(event.selection_list)
