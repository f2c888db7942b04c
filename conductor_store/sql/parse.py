"""SQL text -> one sqlglot ``Select`` tree, in a dialect that also reads SurrealQL spellings.

The dialect is sqlglot's default SQL with a few additions, so that a query written for
SurrealDB runs unchanged: ``math::sum(x)`` (and the other ``math::``/``string::`` names in
:data:`SURREAL_FUNCTIONS`) is one function name, ``GROUP ALL`` is a grouping of every row into
one group, and ``START n`` / ``START AT n`` is ``OFFSET n``.

Every failure is a :class:`~conductor_store.QueryError` in this library's words, naming the
construct and where it stands (``line 1, column 25``); sqlglot's own messages never leak out.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ..errors import QueryError

if TYPE_CHECKING:
    import sqlglot.expressions as exp

#: SurrealQL function names accepted, and the SQL function each one means
SURREAL_FUNCTIONS = {
    "math::sum": "SUM",
    "math::mean": "AVG",
    "math::max": "MAX",
    "math::min": "MIN",
    "string::lowercase": "LOWER",
    "string::uppercase": "UPPER",
    "string::len": "LENGTH",
}

_STATEMENT = re.compile(
    r"\s*(with|insert|update|upsert|delete|create|drop|alter|replace|merge|truncate|relate"
    r"|define|remove|begin|commit|let|use|info|live|kill|set|grant|copy|attach)\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _dialect() -> Any:
    """The dialect class, built on first use (importing sqlglot takes ~85 ms)."""
    from sqlglot import expressions as exp
    from sqlglot import parser, tokens
    from sqlglot.dialects.dialect import Dialect
    from sqlglot.tokens import TokenType

    class Tokenizer(tokens.Tokenizer):
        KEYWORDS = {
            **tokens.Tokenizer.KEYWORDS,
            **{name.upper(): TokenType.VAR for name in SURREAL_FUNCTIONS},
            "GROUP ALL": TokenType.GROUP_BY,
            "START": TokenType.OFFSET,
            "START AT": TokenType.OFFSET,
        }

    class Parser(parser.Parser):
        def _parse_group(self, skip_group_by_token: bool = False) -> Any:
            token = self._curr
            if (
                not skip_group_by_token
                and token is not None
                and token.token_type == TokenType.GROUP_BY
                and token.text.upper().split() == ["GROUP", "ALL"]
            ):
                self._advance()
                group = exp.Group()
                group.meta["group_all"] = True
                return group
            return super()._parse_group(skip_group_by_token)

    class ConductorSQL(Dialect):
        pass

    ConductorSQL.tokenizer_class = Tokenizer
    ConductorSQL.parser_class = Parser  # type: ignore[assignment]
    return ConductorSQL


@lru_cache(maxsize=512)
def parse(text: str) -> "exp.Select":
    """The one SELECT statement of ``text`` (cached by text; trees are never mutated)."""
    if not isinstance(text, str):
        raise QueryError(f"a query must be SQL text (str), not {type(text).__name__}")
    if not text.strip():
        raise QueryError("the query is empty: write SELECT ... FROM table")
    import sqlglot
    from sqlglot import expressions as exp
    from sqlglot.errors import SqlglotError

    statement = _STATEMENT.match(text)
    if statement:
        raise QueryError(_not_read_only(statement[1]))
    try:
        trees = [t for t in sqlglot.parse(text, dialect=_dialect()) if t is not None]
    except SqlglotError as error:
        raise QueryError(_syntax_message(error, text)) from None
    except RecursionError:
        raise QueryError("the query is nested too deeply") from None
    if len(trees) != 1:
        raise QueryError(
            f"one statement at a time, please: the text holds {len(trees)} statements"
            if trees
            else "the query is empty: write SELECT ... FROM table"
        )
    tree = trees[0]
    if isinstance(tree, exp.Select):
        return tree
    if isinstance(tree, (exp.Union, exp.Intersect, exp.Except)):
        kind = type(tree).__name__.upper()
        raise QueryError(f"{kind} is not supported {at(tree, text)}: one SELECT at a time")
    if isinstance(tree, exp.Subquery):
        raise QueryError(f"a parenthesised query is not supported {at(tree, text)}")
    raise QueryError(_not_read_only(tree.key))


def _not_read_only(keyword: str) -> str:
    return (
        f"{keyword.upper()} statements are not supported: store.query is read-only and takes "
        "one SELECT (use store.surrealql for raw SurrealQL on SurrealDB backends)"
    )


def position(text: str, offset: int) -> str:
    """``line L, column C`` (both counted from 1) of character ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def at(node: "exp.Expression", text: str) -> str:
    """``at line L, column C``: where ``node`` starts in ``text`` (its first token that sqlglot
    located), or ``""`` when nothing in it carries a position."""
    start = None
    for item in node.walk():
        meta = item.meta if item._meta is not None else None
        if meta and "start" in meta:
            start = meta["start"] if start is None else min(start, meta["start"])
    return f"at {position(text, start)}" if start is not None else ""


_WORDS = [
    (re.compile(r"Required keyword: '(\w+)' missing for .*?(\w+)'>"), "{highlight} is incomplete"),
    (re.compile(r"Expecting (.+)"), "expected {0} near {highlight}"),
    (re.compile(r"Expected (.+)"), "expected {0} near {highlight}"),
    (re.compile(r"Invalid expression / Unexpected token"), "unexpected {highlight}"),
]


def _syntax_message(error: Exception, text: str) -> str:
    details = getattr(error, "errors", None)
    if not details:  # a tokenizer error: an unterminated string or quoted name, as a rule
        message = str(error)
        found = re.search(r"Line (\d+), Col: (\d+)", message)
        where = f" at line {found[1]}, column {found[2]}" if found else ""
        return f"syntax error{where}: a string or quoted name is not closed (' or \" missing)"
    d = details[0]
    highlight = repr(d.get("highlight") or "the end")
    description = str(d.get("description") or "")
    words = "the query cannot be read here"
    for pattern, template in _WORDS:
        found = pattern.match(description)
        if found:
            words = template.format(*found.groups(), highlight=highlight)
            break
    if description.startswith("Required keyword") and d.get("highlight"):
        words += ": an operand or value is missing"
    return f"syntax error at line {d['line']}, column {d['col']}: {words}"
