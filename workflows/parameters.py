"""Template parameters: validating them (a `TemplateError` naming the parameter) and reading
them from command-line ``name=value`` strings, typed by the parameters model's fields."""

from __future__ import annotations

import difflib
import json
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ValidationError

from deeptui.errors import TemplateError


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


# An optional text parameter: a blank value (an empty form field) means "not given".
OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none)]


def did_you_mean(word: str, choices: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


def describe_error(error: Mapping[str, Any]) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    where = loc[0] if loc else "?"
    detail = f" (item {'.'.join(loc[1:])})" if len(loc) > 1 else ""
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    value = error.get("input")
    shown = "" if isinstance(value, (dict, list)) else f" (got {value!r})"
    return f"parameter '{where}'{detail}: {message}{shown}"


def validate_parameters(
    template_name: str, model: type[BaseModel], params: Mapping[str, Any]
) -> BaseModel:
    """``params`` validated by ``model``; TemplateError naming the unknown or bad parameter."""
    fields = list(model.model_fields)
    for key in params:
        if key not in model.model_fields:
            names = ", ".join(fields) or "none"
            raise TemplateError(
                f"template '{template_name}': unknown parameter '{key}'."
                f"{did_you_mean(key, fields)} Parameters: {names}"
            )
    try:
        return model.model_validate(dict(params))
    except ValidationError as exc:
        first = exc.errors()[0]
        raise TemplateError(f"template '{template_name}': {describe_error(first)}") from None


# ------------------------------------------------------ command-line values

_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        if len(args) == 1:
            return args[0], optional
        return annotation, optional
    return annotation, False


def _convert(key: str, text: str, annotation: Any) -> Any:
    annotation, optional = _unwrap_optional(annotation)
    if optional and text.strip().lower() in ("", "none", "null"):
        return None
    origin = typing.get_origin(annotation)
    if annotation is bool:
        lowered = text.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise TemplateError(f"parameter '{key}': expected true/false/yes/no/1/0, got {text!r}")
    if annotation in (int, float):
        try:
            return annotation(text.strip())
        except ValueError:
            kind = "an integer" if annotation is int else "a number"
            raise TemplateError(f"parameter '{key}': expected {kind}, got {text!r}") from None
    if origin is Literal:
        choices = typing.get_args(annotation)
        for choice in choices:
            if str(choice) == text.strip():
                return choice
        shown = ", ".join(str(c) for c in choices)
        raise TemplateError(f"parameter '{key}': {text!r} is not one of: {shown}")
    if origin in (list, tuple, set, frozenset):
        (item,) = typing.get_args(annotation)[:1] or (Any,)
        if text.strip().startswith("["):
            items = _json(key, text, list, "a JSON list")
            return [i if not isinstance(i, str) else _convert(key, i, item) for i in items]
        if item is dict or typing.get_origin(item) is dict:
            raise TemplateError(f"parameter '{key}': expected a JSON list of objects, got {text!r}")
        return [_convert(key, part.strip(), item) for part in text.split(",") if part.strip()]
    if annotation is dict or origin is dict:
        return _json(key, text, dict, "a JSON object")
    if annotation is str:
        return text
    try:  # anything else: JSON if it parses, the text otherwise
        return json.loads(text)
    except ValueError:
        return text


def _json(key: str, text: str, kind: type, what: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise TemplateError(f"parameter '{key}': expected {what}, got invalid JSON ({exc})") from None
    if not isinstance(value, kind):
        raise TemplateError(f"parameter '{key}': expected {what}, got {text!r}")
    return value


def parse_param_assignments(pairs: list[str], model: type[BaseModel]) -> dict[str, Any]:
    """Turn command-line ``name=value`` strings into values typed by ``model``'s fields.

    Booleans accept true/false/yes/no/1/0, lists a comma-separated list or a
    JSON list, dicts a JSON object; an optional field set to ``none`` or
    nothing is None. A later assignment of the same name wins.
    """
    values: dict[str, Any] = {}
    fields = model.model_fields
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise TemplateError(f"parameter assignment {pair!r} must look like name=value")
        if key not in fields:
            names = ", ".join(fields) or "none"
            raise TemplateError(
                f"unknown parameter '{key}'.{did_you_mean(key, fields)} Parameters: {names}"
            )
        values[key] = _convert(key, text, fields[key].annotation)
    return values
