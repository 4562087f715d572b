"""Request body schemas share these rules, so each is decided once: a body is a JSON object with no unknown
fields; a string is a JSON string (never the repr of a list or an object) free of control characters; an id is
also one URL path segment; a whole number is not a boolean; a boolean is JSON true or false ("false", "no" and 0
are not). Messages read after the field's name ("label must be a string"); service.api.errors joins the two."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Integer, String
from marshmallow import ValidationError

from ..ingest.validate import id_problem, text_problem

COMMON = {"required": "is required", "null": "must not be null"}


class Body(Schema):
    """The base of every request body schema."""

    error_messages = {"unknown": "is not a field of this body", "type": "must be a JSON object"}


class Text(String):
    """A string without control characters (tab and line breaks are fine)."""

    default_error_messages = {**COMMON, "invalid": "must be a string"}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if problem := text_problem(text, attr or ""):  # an item of a list has no name of its own
            raise ValidationError(problem.strip())
        return text


class Id(Text):
    """An id: a string that can be one segment of a URL path (no '/', no control characters, not '.' or '..')."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if problem := id_problem(text, attr or ""):
            raise ValidationError(problem.strip())
        return text


class WholeNumber(Integer):
    """A JSON integer: not 3.0, not "3" and not true (marshmallow's Integer takes a bool as 0 or 1)."""

    default_error_messages = {**COMMON, "invalid": "must be a whole number"}

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class StrictBoolean(Boolean):
    """JSON true or false only: marshmallow's Boolean also takes "false", "no", "off", 0 and 1."""

    default_error_messages = {**COMMON, "invalid": "must be true or false (a JSON boolean, not a string)"}

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value
