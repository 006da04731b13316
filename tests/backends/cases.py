"""One table of documents, filters and sorts that every evaluator of the query semantics must agree on.

The reference is the memory store's evaluation (:mod:`backends.matching` and
:mod:`backends.memory.query`); the SQL compilation runs the same table on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from backends.base import Query, ValueType
from backends.matching import elements_hold, matches
from backends.memory.query import sort_documents
from tmfgate.query import parse_query

SCHEMA: dict[tuple[str, ...], ValueType] = {
    ("state",): ValueType.STRING,
    ("priority",): ValueType.STRING,
    ("category",): ValueType.STRING,
    ("orderDate",): ValueType.DATETIME,
    ("amount",): ValueType.NUMBER,
    ("active",): ValueType.BOOLEAN,
}

DOCS: list[dict[str, Any]] = [
    {
        "id": "o1",
        "state": "acknowledged",
        "priority": 1,
        "category": "B2B",
        "orderDate": "2019-04-30T08:13:59.506Z",
        "amount": 10,
        "active": True,
        "@type": "ProductOrder",
        "relatedParty": [{"id": "14", "role": "customer"}, {"id": "15", "role": "seller"}],
        "tags": ["red", "blue"],
        "note": {"text": "hello, world", "author": {"name": "Ann"}},
    },
    {
        "id": "o2",
        "state": "rejected",
        "priority": "1",
        "category": "b2c",
        "orderDate": "2019-04-30T23:30:00-02:00",  # 2019-05-01T01:30Z
        "amount": 9,
        "active": False,
        "@type": "ProductOrder",
        "relatedParty": [{"id": "16", "role": "customer"}],
        "tags": ["green"],
        "name": "a,b",
    },
    {
        "id": "o3",
        "state": "completed",
        "priority": 2,
        "orderDate": "2019-05-01T00:30:00+02:00",  # 2019-04-30T22:30Z
        "amount": 10.5,
        "@type": "B2BOrder",
        "relatedParty": {"id": "14", "role": "customer"},
        "name": 'O\'Brien "quoted"',
        "note": [{"text": "first"}, {"author": [{"name": "Bob"}, {"name": "Ann"}]}],
    },
    {
        "id": "o4",
        "state": "inProgress",
        "orderDate": "not a date",
        "amount": "11",
        "active": "true",
        "tags": "red",
        "weird'na\"me": "x",
        "back\\slash": "y",
        "name": "multi\nline",
    },
    {"id": "o5"},
    {
        "id": "o6",
        "state": "acknowledged",
        "orderDate": "2019-02-29T10:00:00Z",  # no such day
        "amount": 100,
        "nested": [[{"x": 1}], {"x": 2}],
        "tags": [],
        "priority": None,
    },
    {
        "id": "o7",
        "orderDate": "2020-02-29",
        "amount": -3,
        "priority": True,
        "tags": [["red"]],
        "relatedParty": [],
    },
    {
        "id": "o8",
        "orderDate": "2019-04-30 21:00:00.1234567+0100",  # 2019-04-30T20:00:00.123456Z
        "amount": 0.1,
        "name": "Ünïcødé ✓",
        "relatedParty": [{"role": "customer"}, {"id": "14"}],
    },
]
ALL = {doc["id"] for doc in DOCS}

CASES: list[tuple[str, set[str]]] = [
    ("", ALL),
    ("state=acknowledged", {"o1", "o6"}),
    ("state=acknowledged,rejected", {"o1", "o2", "o6"}),
    ("state=acknowledged&state=rejected", {"o1", "o2", "o6"}),
    ("state=acknowledged;state=rejected", {"o1", "o2", "o6"}),
    ("state=acknowledged&category=B2B", {"o1"}),
    ("state=acknowledged,rejected&category=b2c", {"o2"}),
    ("state.eq=completed", {"o3"}),
    ("state==completed", {"o3"}),
    ("state=%22completed%22", {"o3"}),
    ("state.ne=acknowledged", ALL - {"o1", "o6"}),
    ("state.gt=completed", {"o2", "o4"}),
    ("state.gte=completed", {"o2", "o3", "o4"}),
    ("state<completed", {"o1", "o6"}),
    ("state<=completed", {"o1", "o3", "o6"}),
    ("category.gt=a", {"o2"}),  # code point order: "B2B" < "a" < "b2c"
    ("relatedParty.role=customer", {"o1", "o2", "o3", "o8"}),
    ('relatedParty.id="14"', {"o1", "o3", "o8"}),
    ("relatedParty.id=14&relatedParty.role=seller", {"o1"}),
    ("relatedParty.id=14&relatedParty.role=customer", {"o1", "o3", "o8"}),  # any element, not the same
    ("relatedParty.id.ne=14", ALL - {"o1", "o3", "o8"}),
    ("note.author.name=Ann", {"o1", "o3"}),
    ("note.text=hello, world", set()),
    ('note.text="hello, world"', {"o1"}),
    ("tags=red", {"o1", "o4"}),
    ("tags=red,green", {"o1", "o2", "o4"}),
    ("tags.ne=red", ALL - {"o1", "o4"}),
    ("nested.x=2", {"o6"}),
    ("nested.x=1", set()),  # arrays of arrays are not flattened
    ('name="a,b"', {"o2"}),
    ("name=a,b", set()),
    ("name=O%27Brien%20%22quoted%22", {"o3"}),
    ('name="O\'Brien "quoted""', {"o3"}),
    ("name=%C3%9Cn%C3%AFc%C3%B8d%C3%A9+%E2%9C%93", {"o8"}),
    ("name=multi%0Aline", {"o4"}),
    ("weird%27na%22me=x", {"o4"}),
    ("back%5Cslash=y", {"o4"}),
    ("@type=ProductOrder", {"o1", "o2"}),
    ("%40type=B2BOrder", {"o3"}),
    ("priority=1", {"o1", "o2"}),
    ('priority="1"', {"o1", "o2"}),
    ("priority=1.0", {"o1"}),  # the number 1 equals 1.0; the string "1" is not "1.0"
    ("priority=true", {"o7"}),
    ("priority.ne=1", ALL - {"o1", "o2"}),
    ("priority.gt=0", {"o2"}),  # ordering on a STRING attribute sees strings only
    ("amount=10", {"o1"}),
    ("amount=10.0", {"o1"}),
    ("amount=1e1", {"o1"}),
    ("amount>9", {"o1", "o3", "o6"}),
    ("amount%3E9", {"o1", "o3", "o6"}),
    ("amount.gt=9", {"o1", "o3", "o6"}),
    ("amount.gte=10", {"o1", "o3", "o6"}),
    ("amount%3E%3D10", {"o1", "o3", "o6"}),
    ("amount.lt=10", {"o2", "o7", "o8"}),
    ("amount<=10", {"o1", "o2", "o7", "o8"}),
    ("amount=0.1", {"o8"}),
    ("amount=9,100", {"o2", "o6"}),
    ("amount.gt=100,9", {"o1", "o3", "o6"}),
    ("amount.ne=10", ALL - {"o1"}),
    ("active=true", {"o1"}),
    ("active=false", {"o2"}),
    ("active=TRUE", {"o1"}),
    ("active.ne=true", ALL - {"o1"}),
    ("active.gt=false", {"o1"}),
    ("orderDate=2019-04-30", {"o1", "o3", "o8"}),
    ("orderDate.eq=2019-05-01", {"o2"}),
    ("orderDate=2020-02-29", {"o7"}),
    ("orderDate=2019-02-28", set()),
    ("orderDate.ne=2019-04-30", ALL - {"o1", "o3", "o8"}),
    ("orderDate.gt=2019-04-30T22:00:00Z", {"o2", "o3", "o7"}),
    ("orderDate.gt=2019-04-30T22:00:00.000%2B00:00", {"o2", "o3", "o7"}),
    ("orderDate.gt=2019-05-01T00:00:00+02:00", {"o2", "o3", "o7"}),  # "+" arrived as a space
    ("orderDate>2019-04-30T23:00:00-01:00", {"o2", "o7"}),
    ("orderDate.lt=2019-04-30T22:00:00Z", {"o1", "o8"}),
    ("orderDate.gt=2019-04-30", {"o1", "o2", "o3", "o7", "o8"}),
    ('orderDate.gte="2019-04-30T08:13:59.506Z"', {"o1", "o2", "o3", "o7", "o8"}),
    ("orderDate.gt=2019-04-30T08:13:59.506Z", {"o2", "o3", "o7", "o8"}),
    ("orderDate=2019-04-30T01:30:00-12", set()),
    ("orderDate=2019-04-30T09:13:59.506%2B01", {"o1"}),
    ("orderDate=2019-04-30T09:13:59.506%2B0100", {"o1"}),
    ("orderDate=2019-04-30T20:00:00.123456Z", {"o8"}),
    ("orderDate=2019-05-01T01:30:00Z,2020-02-29T00:00:00Z", {"o2", "o7"}),
    ("orderDate=2019-04-30,2020-02-29", {"o1", "o3", "o7", "o8"}),
    ("orderDate.lt=2019-04-30T22:00:00Z&orderDate.gt=2019-04-30T10:00:00Z", {"o8"}),
    ("state.regex=^ack", {"o1", "o6"}),
    ("state.regex=(?i)^ACK", {"o1", "o6"}),
    ("state.regex=ed$,^in", {"o1", "o2", "o3", "o4", "o6"}),
    ("name.regex=Brien", {"o3"}),
    ("name.regex=multi.line", {"o4"}),
    ("name.regex=^%5Cw%2B%20", {"o8"}),  # \w is Unicode-aware everywhere
    ("name.regex=(?i)^%C3%9CN%C3%8F", {"o8"}),  # so is (?i)
    ("name.regex=(?i)^o%27b", {"o3"}),
    ('name.regex="a,b"', {"o2"}),
    ("amount.regex=1", {"o4"}),  # regex sees strings only
    ("tags.regex=^r", {"o1", "o4"}),
    ("missing=1", set()),
    ("missing.ne=1", ALL),
    ("missing.deeper.still=x", set()),
    ("state.missing=x", set()),
]

SORTS: list[tuple[str, list[str]]] = [
    ("sort=amount", ["o7", "o8", "o2", "o1", "o3", "o6", "o4", "o5"]),
    ("sort=-amount", ["o4", "o6", "o3", "o1", "o2", "o8", "o7", "o5"]),
    ("sort=-state,amount", ["o2", "o4", "o3", "o1", "o6", "o7", "o8", "o5"]),
    ("sort=+state,-amount", ["o6", "o1", "o3", "o4", "o2", "o8", "o7", "o5"]),
    ("sort=relatedParty.id", ["o1", "o3", "o8", "o2", "o4", "o5", "o6", "o7"]),
    ("sort=priority", ["o1", "o3", "o2", "o7", "o4", "o5", "o6", "o8"]),
    ("sort=-priority", ["o7", "o2", "o3", "o1", "o4", "o5", "o6", "o8"]),
    ("sort=tags", ["o2", "o1", "o4", "o3", "o5", "o6", "o7", "o8"]),
    ("sort=category", ["o1", "o2", "o3", "o4", "o5", "o6", "o7", "o8"]),
    ("sort=-category", ["o2", "o1", "o3", "o4", "o5", "o6", "o7", "o8"]),
    ("sort=active,id", ["o4", "o2", "o1", "o3", "o5", "o6", "o7", "o8"]),  # strings < booleans
    ("sort=missing,-id", ["o8", "o7", "o6", "o5", "o4", "o3", "o2", "o1"]),
    ("sort=note.author.name", ["o1", "o3", "o2", "o4", "o5", "o6", "o7", "o8"]),
]

# Values that parse but must run on every store without raising.
HOSTILE = [
    'state="\'; DROP TABLE x; --"',
    "state=%22%27%3B%20DROP%20TABLE%20x%3B%20--%22",
    "state=%27%22%5C%25_*",
    "state.gt=%F0%9F%98%80",
    "state=%FF%FE",
    "name.regex=%27%22",
    "name.regex=[%5C]]",
    "a%22b.c%27d=1",
    "%24=1",
    "%24.a=1",
    "*=1",
    "a[0]=1",
    "%5C=1",
    "x%0Ay=1",
    "x%01y=1",
    "@type.regex=.*",
    "orderDate=9999-12-31",
    "orderDate.gt=9999-12-31T23:59:59.999999Z",
    "orderDate.lt=0001-01-01",
    "orderDate.ne=0001-01-01T00:00:00-01:00",
    "amount=1e300",
    "amount=-1e-300",
    "amount=-0",
    "amount=0.30000000000000004",
    "amount.lt=99999999999999999999999999999999",
    "unknown=2019-13-45",
    "unknown.gt=2019-02-29",
    "unknown.lt=1e300",
    "tags=" + ",".join(str(n) for n in range(150)),
    "state=",
    'state=""',
    "sort=a%22b,c%27d,-%24",
]


REGEXES = [
    r"^a",
    r"(?i)a",
    r"a|",
    r"|",
    r"[]a]",
    r"[^]a]",
    r"[\]]",
    r"[\-a]",
    r"[a\d]",
    r"[\D]",
    r"[\w-]",
    r"a}",
    r"}",
    r"\.",
    r"\/",
    r"\#",
    r"\ ",
    r"a*?",
    r"x{2,3}?",
    r"(?=a)a",
    r"(?!a)b",
    r"(?<=a)b",
    r"(?<!a)b",
    r"(a{100}){10}",
    r"\Aa\Z",
    r"\s\S\w\W\d\D",
    r"[\s]",
    r"é",
    r"(?:ab)+c",
    r"a{0}",
    r"\n\t\r\f\v",
    r"()",
    r"(|a)",
    r"[a-]",
    r"^$",
    r"a{256}",
    r"(a{100}){100}",
    r"(a+)*",
    r"(a*)+",
    r"(a+){2}",
    r"a**",
    r"a*+",
    r"a++",
    r"a{2}+",
    r"(?P<n>a)",
    r"(?P=n)",
    r"(?#c)",
    r"(?>a)",
    r"(?i:a)",
    r"x(?i)",
    r"(?s)a",
    r"(?(1)a|b)",
    r"\b",
    r"\B",
    r"\1",
    r"(a)\1",
    r"\x41",
    r"\u0041",
    r"\N{DASH}",
    r"\é",
    r"\0",
    r"\a",
    r"[[:alpha:]]",
    r"[a[]",
    r"{",
    r"a{x}",
    r"a{,3}",
    r"a{3,2}",
    "\\",
    r"[a",
    r"(a",
    r"a)",
    r"*a",
    r"[a--b]",
    r"[a&&b]",
    r"[\b]",
    r"[\x41]",
    r"\Z\z",
    "a" * 300,
]

# JSON Path filters (TMF630 Part 6): every comparison of one filter holds on the same element, which
# dotted filters cannot say (relatedParty.id=14&relatedParty.role=customer also finds o8).
ELEMENT_CASES: list[tuple[str, set[str]]] = [
    ("filter=relatedParty[?(@.id=='14' && @.role=='customer')]", {"o1", "o3"}),
    ("relatedParty.id=14&relatedParty.role=customer", {"o1", "o3", "o8"}),
    ("filter=$.relatedParty[?(@.role=='seller')]", {"o1"}),
    ("filter=$['relatedParty'][?(@['role']==\"seller\")]", {"o1"}),
    ("filter=relatedParty[?(@.id!='14' && @.role=='customer')]", {"o2", "o8"}),
    ("filter=relatedParty[?(@.id>'14')]", {"o1", "o2"}),
    ("filter=note[?(@.author.name=='Ann')]", {"o1", "o3"}),
    ("filter=note[?(@.text=~/^f/)]", {"o3"}),
    ("filter=note[?(@.text=~/^H/i)]", {"o1"}),
    ("filter=nested[?(@.x==2)]", {"o6"}),
    ("filter=nested[?(@.x<2)]", set()),
    ("filter=tags[?(@.x=='red')]", set()),
    ("filter=relatedParty[?(@.id=='14')]&state=completed", {"o3"}),
    ("filter=relatedParty[?(@.role=='seller')]&filter=relatedParty[?(@.id=='14'%26%26@.role=='customer')]", {"o1"}),
    ("filter=relatedParty[?(@.id=='14' && @.role=='customer')]&filter=note[?(@.author.name=='Bob')]", {"o3"}),
]


def parse(raw: str) -> Query:
    """A query string parsed as the gateway parses it, with the attribute types of SCHEMA."""
    return parse_query(raw, attribute_kind=SCHEMA.get)


class Reference:
    """The memory store's answer: which documents match, and in which order they sort."""

    name = "memory"

    def ids(self, query: Query) -> set[str]:
        return {doc["id"] for doc in DOCS if matches(query.conditions, doc) and elements_hold(query.elements, doc)}

    def ordered(self, query: Query) -> list[str]:
        return [doc["id"] for doc in sort_documents(sorted(DOCS, key=lambda doc: doc["id"]), query.sort)]
