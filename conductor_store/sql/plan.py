"""A parsed SELECT -> :class:`Plan`: what to read, group, compute, order and return.

A plan is made once per query text (and cached); :func:`conductor_store.sql.bind.bind` then
binds it to a call's params. Everything the portable query language does not support is
refused here, with a :class:`~conductor_store.QueryError` naming the construct and its place.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from .. import where_sql as w
from ..errors import QueryError, ValidationError
from ..validation import check_table
from . import nodes as n
from .parse import SURREAL_FUNCTIONS, at, parse

if TYPE_CHECKING:
    import sqlglot.expressions as exp


@dataclass(frozen=True)
class Plan:
    text: str
    table: str
    star: bool  # SELECT *: whole records
    columns: tuple  # ((name, Expr), ...) when not star
    where: Any  # the sqlglot condition (compiled by query.py when params are bound) or None
    grouped: bool  # GROUP BY, GROUP ALL, or an aggregate anywhere
    keys: tuple  # the GROUP BY paths
    having: Any  # Expr or None
    order: tuple  # ((Expr, descending, nulls_first), ...)
    distinct: bool
    limit: Any  # Expr (Const or Param) or None
    offset: Any  # Expr or None


_CLAUSES = {
    "joins": "JOIN",
    "laterals": "LATERAL",
    "with_": "WITH",
    "with": "WITH",
    "windows": "WINDOW",
    "qualify": "QUALIFY",
    "into": "SELECT ... INTO",
    "locks": "FOR UPDATE / FOR SHARE",
    "pivots": "PIVOT",
    "sample": "TABLESAMPLE",
    "connect": "CONNECT BY",
    "match": "MATCH_RECOGNIZE",
    "prewhere": "PREWHERE",
    "cluster": "CLUSTER BY",
    "distribute": "DISTRIBUTE BY",
    "sort": "SORT BY",
    "settings": "SETTINGS",
    "format": "FORMAT",
    "exclude": "EXCLUDE",
    "hint": "a query hint",
    "kind": "SELECT AS STRUCT/VALUE",
    "operation_modifiers": "a SELECT modifier",
}
_KNOWN = {"expressions", "from_", "from", "where", "group", "having", "order", "limit"}
_KNOWN |= {"offset", "distinct"}


@lru_cache(maxsize=512)
def plan(text: str) -> Plan:
    """The plan of ``text`` (cached by text)."""
    return _Planner(text).build(parse(text))


class _Planner:
    def __init__(self, text: str) -> None:
        self.text = text
        if w.exp is None:  # query.py imports sqlglot.expressions lazily, on its first parse
            w._parse("id IS NULL")

    def fail(self, node: "exp.Expression", message: str) -> QueryError:
        where = at(node, self.text)
        return QueryError(f"{message} {where}" if where else message)

    # -- the statement ---------------------------------------------------------------------
    def build(self, tree: "exp.Select") -> Plan:
        for key, value in tree.args.items():
            if key not in _KNOWN and value not in (None, [], False):
                name = _CLAUSES.get(key, key.upper())
                node = value[0] if isinstance(value, list) else value
                raise self.fail(node if hasattr(node, "walk") else tree, f"{name} is not supported")
        table = self.table(tree)
        star, columns = self.columns(tree)
        group = tree.args.get("group")
        keys = self.group_keys(group) if group is not None else ()
        aliases = {name: e for name, e in columns if name is not None}
        having = tree.args.get("having")
        having_expr = self.expr(having.this, aliases) if having is not None else None
        order = self.order(tree.args.get("order"), columns, aliases)
        named = tuple((name if name is not None else n.render(e), e) for name, e in columns)
        grouped = group is not None or any(
            isinstance(x, n.Agg)
            for e in [e for _, e in named] + [having_expr] + [o[0] for o in order]
            if e is not None
            for x in n.walk(e)
        )
        where = tree.args.get("where")
        if where is not None:
            self.check_where(where.this)
        distinct = self.distinct(tree.args.get("distinct"))
        result = Plan(
            text=self.text,
            table=table,
            star=star,
            columns=named,
            where=where.this if where is not None else None,
            grouped=grouped,
            keys=keys,
            having=having_expr,
            order=order,
            distinct=distinct,
            limit=self.count_of(tree.args.get("limit"), "LIMIT"),
            offset=self.count_of(tree.args.get("offset"), "OFFSET"),
        )
        self.check(result, tree, having is not None)
        return result

    def table(self, tree: "exp.Select") -> str:
        source = tree.args.get("from_") or tree.args.get("from")
        if source is None:
            raise QueryError("FROM is missing: write SELECT ... FROM table")
        table = source.this
        if table.key != "table" or not isinstance(table.this, w.exp.Identifier):
            raise self.fail(table, "FROM takes one table name (subqueries are not supported)")
        if table.args.get("db") or table.args.get("catalog"):
            raise self.fail(table, f"FROM takes a plain table name, not {table.sql()}")
        alias = table.args.get("alias")
        if alias:
            if alias.name.upper() in _CLAUSE_WORDS:
                raise self.fail(alias, f"syntax error: {alias.name.upper()} is incomplete")
            raise self.fail(table, "table aliases are not supported (name fields directly)")
        if table.args.get("joins") or table.args.get("laterals"):
            raise self.fail(table, "JOIN is not supported")
        try:
            return check_table(table.name)
        except ValidationError as error:
            raise self.fail(table, str(error)) from None

    def columns(self, tree: "exp.Select") -> tuple[bool, tuple]:
        items = tree.expressions
        if any(item.key == "star" for item in items):
            if len(items) > 1:
                raise self.fail(items[0], "SELECT * cannot be combined with other columns")
            return True, ()
        if not items:
            raise QueryError("SELECT needs at least one column (or *)")
        columns = []
        for item in items:
            if item.key == "alias" and _is_value_keyword(item.this):
                raise self.fail(item, "SELECT VALUE is not supported: select a column")
            if item.key == "alias":
                columns.append((item.alias, self.expr(item.this, {})))
            else:
                columns.append((None, self.expr(item, {})))
        return False, tuple(columns)

    def group_keys(self, group: "exp.Group") -> tuple:
        if group.meta.get("group_all") if group._meta is not None else False:
            return ()
        for key, value in group.args.items():
            if key != "expressions" and value not in (None, [], False):
                raise self.fail(group, f"GROUP BY {key.upper()} is not supported")
        if not group.expressions:
            raise self.fail(group, "GROUP BY needs at least one field (or write GROUP ALL)")
        keys = []
        for item in group.expressions:
            item = w._unparen(item)
            if item.key not in w._FIELDS:
                raise self.fail(item, f"GROUP BY takes fields, not {w._sql(item)}")
            keys.append(self.path(item))
        return tuple(keys)

    def order(self, order: Any, columns: tuple, aliases: dict) -> tuple:
        if order is None:
            return ()
        out = []
        for item in order.expressions:
            e = w._unparen(item.this)
            if e.key == "literal" and not e.is_string:
                position = w._number(e.this)
                if not isinstance(position, int) or not 1 <= position <= len(columns):
                    raise self.fail(e, f"ORDER BY {e.this}: there is no column {e.this}")
                expr = columns[position - 1][1]
            else:
                expr = self.expr(e, aliases)
            desc = bool(item.args.get("desc"))
            nulls_first = item.args.get("nulls_first")
            out.append((expr, desc, (not desc) if nulls_first is None else bool(nulls_first)))
        return tuple(out)

    def distinct(self, distinct: Any) -> bool:
        if distinct is None:
            return False
        if distinct.args.get("on") is not None:
            raise self.fail(distinct, "DISTINCT ON is not supported")
        return True

    def count_of(self, clause: Any, what: str) -> Any:
        if clause is None:
            return None
        if clause.key not in ("limit", "offset"):
            raise self.fail(clause, f"{clause.key.upper()} is not supported: use LIMIT")
        if clause.args.get("offset") is not None:
            raise self.fail(clause, f"{what} a, b is not supported: write LIMIT n OFFSET m")
        for key, value in clause.args.items():
            if key != "expression" and value not in (None, [], False):
                raise self.fail(clause, f"{what} ... {key.upper()} is not supported")
        e = w._unparen(clause.expression)
        if e.key == "placeholder":
            return self.placeholder(e)
        if e.key == "literal" and not e.is_string:
            return n.Const(w._number(e.this))
        raise self.fail(e, f"{what} takes a number or a :parameter, not {w._sql(e)}")

    # -- checks across clauses ---------------------------------------------------------------
    def check_where(self, where: "exp.Expression") -> None:
        node: Any
        for node in where.walk():
            if isinstance(node, (w.exp.AggFunc, w.exp.Count)) or (
                node.key == "anonymous" and node.name.lower().startswith("math::")
            ):
                raise self.fail(node, f"an aggregate ({w._sql(node)}) in WHERE: use HAVING")
            if isinstance(node, w.exp.Window):
                raise self.fail(node, "window functions (OVER) are not supported")
            if isinstance(node, (w.exp.Select, w.exp.Subquery, w.exp.Exists)):
                raise self.fail(node, "subqueries are not supported")

    def check(self, p: Plan, tree: "exp.Select", has_having: bool) -> None:
        names = [name for name, _ in p.columns]
        for name in names:
            if names.count(name) > 1:
                raise QueryError(f"two columns are named {name!r}: give one an alias (AS)")
        exprs = [e for _, e in p.columns] + [o[0] for o in p.order]
        if p.having is not None:
            exprs.append(p.having)
        for e in exprs:
            for agg in (x for x in n.walk(e) if isinstance(x, n.Agg)):
                if agg.arg is not None and any(isinstance(x, n.Agg) for x in n.walk(agg.arg)):
                    raise QueryError(f"aggregates cannot be nested: {n.render(agg)}")
        if has_having and not p.grouped:
            raise self.fail(tree.args["having"], "HAVING needs GROUP BY or an aggregate")
        if p.grouped:
            if p.star:
                raise QueryError("SELECT * cannot be grouped: name the GROUP BY fields")
            for e in exprs:
                self.check_grouped(e, p.keys)
        if p.distinct and p.order:
            selected = {e for _, e in p.columns}
            for e, _, _ in p.order:
                if not p.star and e not in selected:
                    raise QueryError(
                        f"with DISTINCT, ORDER BY must name selected columns: {n.render(e)}"
                    )

    def check_grouped(self, e: n.Expr, keys: tuple) -> None:
        if isinstance(e, n.Agg):
            return
        if isinstance(e, n.Field) and e.path not in keys:
            shown = ".".join(e.path)
            raise QueryError(
                f"field {shown!r} is neither in GROUP BY nor inside an aggregate "
                f"(add it to GROUP BY or write e.g. MAX({shown}))"
            )
        for child in n.children(e):
            self.check_grouped(child, keys)

    # -- expressions -------------------------------------------------------------------------
    def path(self, e: "exp.Expression") -> tuple:
        try:
            return w._path(e)
        except QueryError as error:
            raise self.fail(e, str(error)) from None

    def placeholder(self, e: "exp.Expression") -> n.Param:
        if not isinstance(e.this, str):
            raise self.fail(e, "positional placeholders (?) are not supported: use :name")
        return n.Param(e.this)

    def expr(self, e: Any, aliases: dict) -> n.Expr:
        """A sqlglot expression as a node; a bare name in ``aliases`` is that column."""
        e = w._unparen(e)
        key = e.key
        if key in w._FIELDS:
            if key == "column" and len(e.parts) == 1 and e.name in aliases:
                return aliases[e.name]
            return n.Field(self.path(e))
        if key == "placeholder":
            return self.placeholder(e)
        if key in ("literal", "boolean", "null") or (key == "neg" and w._is_value(e)):
            return n.Const(w._raw_value(e, {}))
        if key in _ARITH:
            return n.Arith(
                _ARITH[key], self.expr(e.this, aliases), self.expr(e.expression, aliases)
            )
        if key == "neg":
            return n.Neg(self.expr(e.this, aliases))
        if key in w._COMPARISONS:
            return n.Cmp(
                w._COMPARISONS[key], self.expr(e.this, aliases), self.expr(e.expression, aliases)
            )
        if key in ("and", "or"):
            items = [self.expr(x, aliases) for x in w._flatten(e, key)]
            return n.Logic(key.upper(), tuple(items))
        if key == "not":
            return n.Not(self.expr(e.this, aliases))
        if key in ("is", "in", "like"):
            return self.predicate(e, aliases)
        return self.function(e, aliases)

    def predicate(self, e: "exp.Expression", aliases: dict) -> n.Expr:
        item = self.expr(e.this, aliases)
        if e.key == "is":
            if w._unparen(e.expression).key != "null":
                raise self.fail(e, "only IS NULL and IS NOT NULL are supported")
            return n.IsNull(item)
        if e.key == "like":
            if e.args.get("escape") is not None:
                raise self.fail(e, "LIKE ... ESCAPE is not supported")
            node: n.Expr = n.Like(item, self.expr(e.expression, aliases))
        else:
            if e.args.get("query") is not None:
                raise self.fail(e, "subqueries are not supported")
            source = e.args.get("field")
            if source is not None:
                if source.key != "placeholder":
                    raise self.fail(source, "IN takes (values, ...) or one :parameter")
                node = n.InList(item, self.placeholder(source))
            else:
                node = n.InList(item, tuple(self.expr(x, aliases) for x in e.expressions))
        return n.Not(node) if e.args.get("negate") else node

    def function(self, e: "exp.Expression", aliases: dict) -> n.Expr:
        key = e.key
        if key == "count":
            return self.count(e, aliases)
        if key in _AGGREGATES:
            if e.expressions:
                raise self.fail(e, f"{key.upper()} takes one argument")
            return self.aggregate(key.upper(), key.upper(), e.this, aliases)
        if key in _SCALARS:
            args = [e.this, *e.expressions] if key == "coalesce" else [e.this]
            if key != "coalesce" and any(e.args.get(k) for k in e.args if k != "this"):
                raise self.fail(e, f"{key.upper()} takes one argument")
            return n.Func(key.upper(), tuple(self.expr(a, aliases) for a in args), key.upper())
        if key == "anonymous" and e.name.lower() in SURREAL_FUNCTIONS:
            spelling = e.name.lower()
            name = SURREAL_FUNCTIONS[spelling]
            if len(e.expressions) != 1:
                raise self.fail(e, f"{spelling}() takes one argument")
            if name in ("LOWER", "UPPER", "LENGTH"):
                return n.Func(name, (self.expr(e.expressions[0], aliases),), spelling)
            return self.aggregate(name, spelling, e.expressions[0], aliases)
        raise self.fail(e, _unsupported(e))

    def count(self, e: "exp.Expression", aliases: dict) -> n.Agg:
        arg = e.this
        if arg is None:
            return n.Agg("COUNT", None, False, "count")
        if arg.key == "star":
            return n.Agg("COUNT", None, False, "COUNT")
        if arg.key == "distinct":
            if len(arg.expressions) != 1:
                raise self.fail(e, "COUNT(DISTINCT ...) takes one expression")
            return n.Agg("COUNT", self.expr(arg.expressions[0], aliases), True, "COUNT")
        return n.Agg("COUNT", self.expr(arg, aliases), False, "COUNT")

    def aggregate(self, name: str, spelling: str, arg: Any, aliases: dict) -> n.Agg:
        if arg is not None and arg.key == "distinct":
            raise self.fail(arg, f"DISTINCT inside {name} is not supported (only in COUNT)")
        if arg is None or arg.key == "star":
            raise QueryError(f"{spelling}() needs a field or an expression")
        return n.Agg(name, self.expr(arg, aliases), False, spelling)


_CLAUSE_WORDS = {"ORDER", "GROUP", "LIMIT", "WHERE", "HAVING", "OFFSET", "START", "BY"}


def _is_value_keyword(e: Any) -> bool:
    return e.key == "column" and not e.this.quoted and e.name.upper() == "VALUE" and not e.table


_ARITH = {"add": "+", "sub": "-", "mul": "*", "div": "/", "mod": "%"}
_AGGREGATES = {"sum", "avg", "min", "max"}
_SCALARS = {"coalesce", "lower", "upper", "length"}


def _unsupported(e: "exp.Expression") -> str:
    exp = w.exp
    if isinstance(e, exp.Window):
        return "window functions (OVER) are not supported"
    if isinstance(e, (exp.Select, exp.Subquery, exp.Exists, exp.Query)):
        return "subqueries are not supported"
    if e.key in w._NAMED:
        return w._NAMED[e.key]
    target = e.args.get("to")
    if isinstance(e, exp.Cast) and e.this.key == "column" and target is not None:
        if target.this == exp.DataType.Type.USERDEFINED and target.args.get("kind"):
            return f"unknown function {e.this.name}::{target.args['kind']}()"
    if isinstance(e, exp.Cast):
        return "casts (CAST, ::type) are not supported"
    if e.key == "anonymous":
        return f"unknown function {e.name}()"
    if isinstance(e, exp.Func):
        return f"unknown function {e.sql_name().upper()}()"
    return w._unsupported(e)
