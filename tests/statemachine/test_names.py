"""The definition takes its names from core: every DynamoDB attribute name, key literal and key prefix that
``statemachine/dispatcher.asl.json`` writes is the value of a constant in ``onthedot.core.jobs``,
``onthedot.core.keys`` or ``onthedot.core.metrics``, so a name misspelt on either side fails here.

What counts as a name, wherever the definition spells it (plain JSON or a JSONata program ``{% ... %}``):

- the attribute names of a ``Key`` or an ``Item`` (``{'pk': {'S': ...}}``: a name whose value is typed), and the
  literal values of ``pk`` and ``sk`` there (``'cursor'``, ``'dispatcher'``, ``'run'``, ``'series'``);
- the values of ``ExpressionAttributeNames``, and the bare attribute names in ``UpdateExpression``,
  ``ConditionExpression``, ``KeyConditionExpression`` and ``ProjectionExpression`` (placeholders, keywords and
  functions left out);
- the attributes a program reads from a DynamoDB result (``$states.result.Item.bucket.S``);
- the key prefixes a program writes keys with: a literal joined to the rest with ``&`` (``'series#' & $id``),
  and the literal start of a regular expression that matches keys (``/^j#\\d{4}.../``).

Everything else a program quotes (the state's own fields, phases, messages) is not a DynamoDB name.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from onthedot.core import jobs, keys, metrics

DEFINITION = Path(__file__).resolve().parents[2] / "statemachine" / "dispatcher.asl.json"

TYPE_TAGS = frozenset({"S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL"})
EXPRESSION_FIELDS = frozenset(
    {"UpdateExpression", "ConditionExpression", "KeyConditionExpression", "ProjectionExpression", "FilterExpression"}
)
RESULT_FIELDS = ("Item", "Items", "Attributes", "LastEvaluatedKey")
EXPRESSION_WORDS = frozenset(
    {"SET", "REMOVE", "ADD", "DELETE", "AND", "OR", "NOT", "BETWEEN", "IN"}
)  # case-insensitive in DynamoDB: compared upper-cased
KEY_ATTRIBUTES = frozenset({jobs.PK, jobs.SK})


@dataclass(frozen=True)
class Name:
    value: str
    where: str  # the JSON path of the string it was found in

    def __str__(self) -> str:
        return f"{self.value!r} at {self.where}"


def core_names(*modules: ModuleType) -> set[str]:
    """Every public module-level str constant of these modules."""
    return {
        value
        for module in modules
        for name, value in vars(module).items()
        if not name.startswith("_") and name.isupper() and isinstance(value, str)
    }


# -- JSONata: tokens, enough to tell a quoted literal's context ----------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # "string", "regex", "name" (a word, a number, a $variable or a path step), or the character itself
    text: str


_OPERAND_ENDS = frozenset({"name", ")", "]", "}", "string"})  # after these a "/" divides


def tokens(program: str) -> list[Token]:
    found: list[Token] = []
    i = 0
    while i < len(program):
        char = program[i]
        if char.isspace():
            i += 1
        elif program.startswith("/*", i):
            i = program.index("*/", i + 2) + 2
        elif char in "'\"":
            end = i + 1
            while program[end] != char:
                end += 2 if program[end] == "\\" else 1
            found.append(Token("string", json.loads('"' + program[i + 1 : end].replace('"', '\\"') + '"')))
            i = end + 1
        elif char == "/" and (not found or found[-1].kind not in _OPERAND_ENDS):
            end = i + 1
            while program[end] != "/":
                end += 2 if program[end] == "\\" else 1
            found.append(Token("regex", program[i + 1 : end]))
            i = end + 1
            while i < len(program) and program[i].isalpha():  # flags
                i += 1
        elif char.isalnum() or char in "$_":
            end = i + 1
            while end < len(program) and (program[end].isalnum() or program[end] == "_"):
                end += 1
            found.append(Token("name", program[i:end]))
            i = end
        else:
            found.append(Token(char, char))
            i += 1
    return found


def expression_names(expression: str) -> Iterator[str]:
    """The attribute names a DynamoDB expression spells out (not ``#placeholders``, ``:values`` or functions)."""
    for match in re.finditer(r"(?<![#:\w])([A-Za-z_]\w*)(?!\w)(?!\s*\()", expression):
        if match[1].upper() not in EXPRESSION_WORDS:
            yield match[1]


def _at(found: list[Token], index: int, *kinds: str) -> bool:
    return all(0 <= index + n < len(found) and found[index + n].kind == kind for n, kind in enumerate(kinds))


def program_names(program: str, where: str, outer: tuple[str | None, ...] = ()) -> Iterator[Name]:
    """The DynamoDB names in one JSONata program. ``outer`` holds the JSON fields the program is the value of
    (``("pk", "S")``): an object's fields in the program continue that path."""
    found = tokens(program)
    frames: list[list[str | None]] = []  # per open bracket: the bracket, and for "{" the field being written
    for i, token in enumerate(found):
        if token.kind == "regex" and token.text.startswith("^"):
            prefix = re.match(r"[\w#]*", token.text[1:])
            if prefix and prefix[0]:
                yield Name(prefix[0], where)  # $contains($cursor, /^j#.../)
        elif token.kind == "name" and _at(found, i - 4, "name", ".", "name", ".") and found[i - 4].text == "result":
            if found[i - 2].text in RESULT_FIELDS:
                yield Name(token.text, where)  # $states.result.Item.<name>.S
        elif token.kind in "{([":
            frames.append([token.kind, None])
        elif token.kind in "})]" and frames:
            frames.pop()
        elif token.kind == "," and frames and frames[-1][0] == "{":
            frames[-1][1] = None
        elif token.kind == "string":
            fields = (*outer, *(field for bracket, field in frames if bracket == "{"))
            if frames and frames[-1][0] == "{" and found[i - 1].kind in "{," and _at(found, i + 1, ":"):
                frames[-1][1] = token.text  # the field of an object: its value follows
                if _names_an_attribute(found, i, fields[-2] if len(fields) > 1 else None):
                    yield Name(token.text, where)
            else:
                yield from (Name(name, where) for name in _literal_names(found, i, fields))


def _names_an_attribute(found: list[Token], i: int, holder: str | None) -> bool:
    """The field at ``i`` is an attribute name: of a Key or an Item, or holding a typed value (``{'S': ...}``)."""
    typed = _at(found, i + 2, "{", "string", ":") and found[i + 3].text in TYPE_TAGS
    return (holder in ("Key", "Item") or typed) and not found[i].text.startswith(":")


def _literal_names(found: list[Token], i: int, fields: tuple[str | None, ...]) -> list[str]:
    """The names the quoted literal at ``i`` spells, by the fields it is the value of."""
    text = found[i].text
    holder, field = (None, None, *fields)[-2:]
    if field in EXPRESSION_FIELDS:
        return list(expression_names(text))
    if holder == "ExpressionAttributeNames" or (field in TYPE_TAGS and holder in KEY_ATTRIBUTES):
        return [text]  # {'#width': '<name>'}, {'pk': {'S': '<key literal>' & ...}}
    if _at(found, i + 1, "&") and not _at(found, i - 1, "&") and not any(c.isspace() for c in text):
        return [text]  # '<prefix>' & $rest (a message has spaces: 'sweep: ' & $error)
    return []


def _program(text: str) -> str | None:
    stripped = text.strip()
    return stripped[2:-2] if stripped.startswith("{%") and stripped.endswith("%}") else None


def definition_names(
    node: Any, where: str = "$", field: str | None = None, parent: str | None = None
) -> Iterator[Name]:
    """Every DynamoDB name a definition (or any part of one) uses. ``field`` is the JSON field ``node`` is the
    value of, ``parent`` the field of the object holding it."""
    if isinstance(node, dict):
        for name, value in node.items():
            path = f"{where}.{name}"
            if field in ("Key", "Item") and isinstance(value, dict) and set(value) <= TYPE_TAGS:
                yield Name(name, path)
            if field == "ExpressionAttributeNames" and isinstance(value, str) and _program(value) is None:
                yield Name(value, path)
            yield from definition_names(value, path, name, field)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from definition_names(value, f"{where}[{index}]", field, parent)
    elif isinstance(node, str):
        program = _program(node)
        if program is not None:
            yield from program_names(program, where, (parent, field))
        elif field in EXPRESSION_FIELDS:
            yield from (Name(name, where) for name in expression_names(node))
        elif field == "S" and parent in KEY_ATTRIBUTES and "${" not in node:
            yield Name(node, where)  # "Key": {"pk": {"S": "<key literal>"}}


# -- the collector, on a small definition ------------------------------------------------------------------------


FAKE = {
    "States": {
        "Read": {
            "Arguments": {"Key": {"pk": {"S": "cursor"}, "sk": {"S": "{% $states.input.sk %}"}}},
            "Output": "{% { 'cursor': $states.result.Item.bucket.S, 'at': $t & ':00Z', 'n': 3 / 2, 'i': $c.Item.X } %}",
        },
        "Write": {
            "Arguments": {
                "Item": {"pk": {"S": "{% 'series#' & $id %}"}, "fired": {"N": "1"}},
                "UpdateExpression": "SET #w = :w, fired = fired + :one REMOVE current",
                "ConditionExpression": "{% $read ? '#end = :read' : 'attribute_not_exists(window_end)' %}",
                "ExpressionAttributeNames": {"#w": "bucket_minutes"},
            }
        },
        "Plan": {
            "Output": "{% ( $key := function($ms) { 'j#' & $string($ms) }; $contains($c, /^j#\\d{4}/) ) %}",
            "Arguments": "{% {'Key': {'pk': {'S': 'run'}}, 'ProjectionExpression': 'sk', "
            "'KeyConditionExpression': $f ? 'pk = :pk AND sk > :from' : 'pk = :pk', "
            "'ExpressionAttributeNames': {'#b': 'bucket'}, 'ExpressionAttributeValues': {':old': {'N': $n}}} %}",
            "Assign": {"errors": "{% $append($errors, 'sweep: ' & $states.errorOutput.Error) %}"},
        },
    }
}


def test_the_collector_finds_every_name_and_nothing_else() -> None:
    found = {name.value for name in definition_names(FAKE)}
    assert found == {
        "pk",
        "sk",
        "cursor",
        "bucket",
        "series#",
        "fired",
        "current",
        "window_end",
        "bucket_minutes",
        "j#",
        "run",
    }


@pytest.mark.parametrize(
    ("right", "typo"),
    [
        ('"Key": {"pk": {"S": "cursor"}', '"Key": {"pk": {"S": "cusror"}'),
        ("Item.bucket.S", "Item.bukcet.S"),
        ("'series#' & $id", "'serie#' & $id"),
        ("fired = fired + :one", "fired = fried + :one"),
        ("attribute_not_exists(window_end)", "attribute_not_exists(window_ned)"),
        ('"#w": "bucket_minutes"', '"#w": "bucket_minute"'),
        ("{'#b': 'bucket'}", "{'#b': 'bukcet'}"),
        ("'Key': {'pk': {'S': 'run'}}", "'Key': {'pk': {'S': 'runs'}}"),
        ("'ProjectionExpression': 'sk'", "'ProjectionExpression': 'ks'"),
        ("AND sk > :from", "AND ks > :from"),
        ('"fired": {"N": "1"}', '"fried": {"N": "1"}'),
        ("/^j#\\\\d{4}/", "/^k#\\\\d{4}/"),
    ],
)
def test_a_name_misspelt_anywhere_is_found(right: str, typo: str) -> None:
    text = json.dumps(FAKE)
    assert right in text
    misspelt = json.loads(text.replace(right, typo))
    unknown = {name.value for name in definition_names(misspelt)} - core_names(jobs, keys, metrics)
    assert len(unknown) == 1


def test_the_expression_reader_leaves_out_placeholders_keywords_and_functions() -> None:
    expression = "SET #a = :a, fired = if_not_exists(fired, :zero) + :one REMOVE current"
    assert list(expression_names(expression)) == ["fired", "fired", "current"]
    assert list(expression_names("pk = :pk AND sk between :from and :to")) == ["pk", "sk"]


# -- the definition ----------------------------------------------------------------------------------------------


def test_every_name_the_definition_uses_is_defined_in_core() -> None:
    names = list(definition_names(json.loads(DEFINITION.read_text())))
    assert {jobs.PK, jobs.SK} <= {name.value for name in names}  # the collector reads this definition
    known = core_names(jobs, keys, metrics)
    assert [str(name) for name in names if name.value not in known] == []
