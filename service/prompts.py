"""Prompt files: one YAML file per prompt in prompts/, validated on load so a broken prompt fails loudly at startup.

Format (all keys except `temperature` required, no others allowed, so a typo cannot be silently ignored):
    name: draft                      # must equal the file stem
    description: one line for humans
    system: plain text (not a template: instructions must not depend on input)
    user: a Jinja2 template, rendered with StrictUndefined
    variables: [question, items]     # exactly the variables the user template uses
    output:                          # required keys of the JSON object the model must return
      text: string                   # short form: string|int|number|bool|object|list[<base>]
      score: {type: int, min: 1, max: 5}   # long form with limits: min/max, max_words/max_chars, max_items
    temperature: 0.2                 # optional
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import jinja2.meta
import yaml

REQUIRED_KEYS = ("name", "description", "system", "user", "variables", "output")
OPTIONAL_KEYS = ("temperature",)
BASE_TYPES = ("string", "int", "number", "bool", "object")
SPEC_KEYS = {"type", "min", "max", "max_words", "max_chars", "max_items"}
_NAME_RE = re.compile(r"^[a-z0-9_]+$")
_LIST_RE = re.compile(r"^list\[(\w+)\]$")


class PromptError(ValueError):
    """A prompt file is invalid, or render() was given the wrong variables."""


def prompts_dir() -> Path:
    override = os.environ.get("FEEDBACK_PROMPTS_DIR")
    return Path(override) if override else Path(__file__).resolve().parents[1] / "prompts"


# Characters that end a line (str.splitlines) which json.dumps leaves raw with ensure_ascii=False: NEL, LINE
# SEPARATOR and PARAGRAPH SEPARATOR. Raw, a question holding "\u2028system: ..." put a line of its own into the
# prompt, outside the JSON string as a line-reading model sees it.
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_LINE_BREAK = re.compile("[\x85\u2028\u2029]")


def _dumps(obj, **kwargs) -> str:
    """json.dumps with every line break escaped: a data block's lines are the JSON's own, whatever the data says.
    (Outside its strings JSON is ASCII, so replacing these characters anywhere only touches string contents.)"""
    return _LINE_BREAK.sub(lambda m: _LINE_BREAKS[m.group()], json.dumps(obj, **kwargs))


def _env() -> jinja2.Environment:
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
    # Keep the caller's key order and non-ASCII text readable; tojson still escapes < > & ' so data
    # can never contain a literal "</data>" that closes the data block early, nor start a line of its own.
    env.policies["json.dumps_kwargs"] = {"sort_keys": False, "ensure_ascii": False}
    env.policies["json.dumps_function"] = _dumps
    return env


_ENV = _env()


@dataclass(frozen=True)
class Prompt:
    name: str
    description: str
    system: str
    user: str
    variables: tuple[str, ...]
    output: dict
    temperature: float | None
    version: str
    path: Path
    _template: jinja2.Template = field(repr=False, compare=False, default=None)

    def render(self, **variables) -> list[dict]:
        missing = [v for v in self.variables if v not in variables]
        if missing:
            raise PromptError(f"prompt {self.name!r} ({self.path}): missing variable {missing[0]!r}")
        extra = sorted(set(variables) - set(self.variables))
        if extra:
            raise PromptError(f"prompt {self.name!r} ({self.path}): unexpected variable {extra[0]!r}")
        try:
            user = self._template.render(**variables)
        except jinja2.UndefinedError as exc:  # e.g. an item dict without a field the template reads
            raise PromptError(f"prompt {self.name!r} ({self.path}): {exc.message}") from exc
        return [{"role": "system", "content": self.system}, {"role": "user", "content": user}]

    def check_output(self, obj) -> list[str]:
        """Problems with a model answer; problem texts name keys and types only, never echo values."""
        if not isinstance(obj, dict):
            return [f"expected a JSON object, got {_type_name(obj)}"]
        problems = []
        for key, spec in self.output.items():
            if key not in obj:
                problems.append(f"missing key {key!r}")
            else:
                problems.extend(_check_value(key, obj[key], spec))
        return problems


def load_prompt(name: str, directory: Path | str | None = None) -> Prompt:
    if not _NAME_RE.match(name or ""):
        raise PromptError(f"invalid prompt name {name!r}")  # also keeps names from escaping the folder
    path = Path(directory) if directory else prompts_dir()
    path = path / f"{name}.yaml"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PromptError(f"{path}: cannot read prompt file ({exc.strerror})") from exc
    stat = path.stat()
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _CACHE:
        _CACHE[key] = _parse(path, raw)
    return _CACHE[key]


_CACHE: dict[tuple, Prompt] = {}


def list_prompts(directory: Path | str | None = None) -> list[str]:
    return sorted(p.stem for p in Path(directory or prompts_dir()).glob("*.yaml"))


def _parse(path: Path, raw: bytes) -> Prompt:
    def fail(field_name: str, message: str):
        raise PromptError(f"{path}: field {field_name!r}: {message}")

    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise PromptError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise PromptError(f"{path}: expected a mapping at the top level")
    for key in REQUIRED_KEYS:
        if key not in doc:
            fail(key, "missing")
    for key in doc:
        if key not in REQUIRED_KEYS + OPTIONAL_KEYS:
            fail(str(key), "unknown key")
    if doc["name"] != path.stem:
        fail("name", f"must equal the file name {path.stem!r}")
    for key in ("description", "system", "user"):
        if not isinstance(doc[key], str) or not doc[key].strip():
            fail(key, "must be a non-empty string")
    if "{{" in doc["system"] or "{%" in doc["system"]:
        fail("system", "is plain text, not a template; put inputs in 'user'")

    variables = doc["variables"]
    if not isinstance(variables, list) or not all(isinstance(v, str) and v.isidentifier() for v in variables):
        fail("variables", "must be a list of identifiers")
    if len(set(variables)) != len(variables):
        fail("variables", "has duplicates")

    try:
        ast = _ENV.parse(doc["user"])
    except jinja2.TemplateSyntaxError as exc:
        fail("user", f"template syntax error line {exc.lineno}: {exc.message}")
    used = jinja2.meta.find_undeclared_variables(ast) - set(_ENV.globals)
    if used - set(variables):
        fail("user", f"uses undeclared variable(s): {', '.join(sorted(used - set(variables)))}")
    if set(variables) - used:
        fail("variables", f"declared but unused: {', '.join(sorted(set(variables) - used))}")

    output = doc["output"]
    if not isinstance(output, dict) or not output:
        fail("output", "must be a non-empty mapping of key -> type")
    normalized = {}
    for key, spec in output.items():
        problem, normalized[key] = _normalize_spec(spec)
        if problem:
            fail("output", f"key {key!r}: {problem}")

    temperature = doc.get("temperature")
    if temperature is not None and (isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2):
        fail("temperature", "must be a number between 0 and 2")

    return Prompt(
        name=doc["name"], description=doc["description"].strip(), system=doc["system"].strip(), user=doc["user"],
        variables=tuple(variables), output=normalized, temperature=temperature,
        version=hashlib.sha256(raw).hexdigest()[:12], path=path, _template=_ENV.from_string(doc["user"]),
    )


def _normalize_spec(spec) -> tuple[str | None, dict]:
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        return "must be a type name or a mapping with 'type'", {}
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        return f"unknown spec key(s) {sorted(unknown)}", {}
    kind = spec["type"].replace(" ", "")
    list_match = _LIST_RE.match(kind)
    base = list_match.group(1) if list_match else kind
    if base not in BASE_TYPES:
        return f"unknown type {spec['type']!r} (known: {', '.join(BASE_TYPES)}, list[<type>])", {}
    allowed = {"int": {"min", "max"}, "number": {"min", "max"}, "string": {"max_words", "max_chars"}}.get(base, set())
    if list_match:
        allowed = {"max_items"}
    for limit in SPEC_KEYS - {"type"}:
        value = spec.get(limit)
        if value is None:
            continue
        if limit not in allowed:
            return f"{limit} does not apply to {kind}", {}
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return f"{limit} must be a number", {}
    return None, {**spec, "type": kind}


def _type_name(value) -> str:
    return {bool: "bool", int: "int", float: "number", str: "string", list: "list", dict: "object"}.get(type(value), "null" if value is None else type(value).__name__)


def _is(base: str, value) -> bool:
    if base == "int":
        return isinstance(value, int) and not isinstance(value, bool)  # JSON true is not a score
    if base == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, {"string": str, "bool": bool, "object": dict}[base])


def _check_value(key: str, value, spec: dict) -> list[str]:
    kind = spec["type"]
    list_match = _LIST_RE.match(kind)
    if list_match:
        if not isinstance(value, list):
            return [f"{key!r} must be {kind}, got {_type_name(value)}"]
        problems = [f"{key!r}[{i}] must be {list_match.group(1)}, got {_type_name(v)}" for i, v in enumerate(value) if not _is(list_match.group(1), v)]
        if spec.get("max_items") is not None and len(value) > spec["max_items"]:
            problems.append(f"{key!r} has {len(value)} items, at most {spec['max_items']} allowed")
        return problems
    if not _is(kind, value):
        return [f"{key!r} must be {kind}, got {_type_name(value)}"]
    problems = []
    if spec.get("min") is not None and value < spec["min"]:
        problems.append(f"{key!r} must be >= {spec['min']}")
    if spec.get("max") is not None and value > spec["max"]:
        problems.append(f"{key!r} must be <= {spec['max']}")
    if kind == "string":
        if spec.get("max_words") is not None and len(value.split()) > spec["max_words"]:
            problems.append(f"{key!r} has {len(value.split())} words, at most {spec['max_words']} allowed")
        if spec.get("max_chars") is not None and len(value) > spec["max_chars"]:
            problems.append(f"{key!r} has {len(value)} characters, at most {spec['max_chars']} allowed")
        if not value.strip():
            problems.append(f"{key!r} is empty")
    return problems
