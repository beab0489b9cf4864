"""Each kind of company record, declared once: its fields (the msgspec schemas that validate requests and make
the OpenAPI document), which fields name other records, which fields are sensitive (sealed with the company's
key), and which list filters it takes; whom its records are about (``subject``), the plan's counter its creations
count against (``quota``) and the rules that need other records (``validate``). ``service``,
``protu.http.directory`` and the company-wide jobs (``protu.ops``: export, erasure, restore test) work from these
declarations only, through ``KINDS`` (``register``): a new kind is one declaration here and its permission in
``protu.identity.rbac``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

from protu import errors
from protu.directory.store import INDEX_SLOTS
from protu.identity.rbac import PERMISSIONS
from protu.schemas import NOT_BLANK, Email, Strict, Version

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z]{2,8}-[0-9a-f]{20}$")]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=NOT_BLANK)]
Short = Annotated[str, msgspec.Meta(max_length=120)]
Text = Annotated[str, msgspec.Meta(max_length=4000)]
Notes = Annotated[str, msgspec.Meta(max_length=10000)]
Stage = Literal["applied", "screening", "interview", "offer", "hired", "rejected"]


class PageQuery(Strict):
    """What every list takes; a kind's query adds its filters."""

    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 25
    cursor: Annotated[str, msgspec.Meta(max_length=200)] | None = None


# ------------------------------------------------------------------------------------------------ job roles
class RoleIn(Strict):
    title: Title
    department: Short = ""
    level: Short = ""
    description: Text = ""


class RolePatch(Strict):
    version: Version
    title: Title | UnsetType = UNSET
    department: Short | UnsetType = UNSET
    level: Short | UnsetType = UNSET
    description: Text | UnsetType = UNSET


class RoleOut(msgspec.Struct):
    id: str
    title: str
    department: str
    level: str
    description: str
    version: int
    created_at: int
    updated_at: int


# ------------------------------------------------------------------------------------------------ candidates
class CandidateIn(Strict):
    name: Title
    email: Email | None = None
    job_role_id: Id | None = None
    stage: Stage = "applied"
    source: Short = ""
    notes: Notes = ""


class CandidatePatch(Strict):
    version: Version
    name: Title | UnsetType = UNSET
    email: Email | None | UnsetType = UNSET
    job_role_id: Id | None | UnsetType = UNSET
    stage: Stage | UnsetType = UNSET
    source: Short | UnsetType = UNSET
    notes: Notes | UnsetType = UNSET


class CandidateOut(msgspec.Struct):
    id: str
    name: str
    email: str | None
    job_role_id: str | None
    stage: str
    source: str
    notes: str
    version: int
    created_at: int
    updated_at: int


Query = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=100,
        description="Words each beginning a word of the name or the email (case- and accent-insensitive).",
    ),
]


class CandidateQuery(PageQuery):
    stage: Stage | None = None
    job_role_id: Id | None = None
    q: Query | None = None


# ------------------------------------------------------------------------------------------------ employees
Status = Literal["active", "on_leave", "left"]
Ids = Annotated[list[Id], msgspec.Meta(max_length=40)]  # one transaction holds at most 100 writes
Day = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")]


class EmployeeIn(Strict):
    name: Title
    email: Email | None = None
    job_role_id: Id | None = None
    team_ids: Ids = []
    start_date: Day | None = None
    status: Status = "active"


class EmployeePatch(Strict):
    version: Version
    name: Title | UnsetType = UNSET
    email: Email | None | UnsetType = UNSET
    job_role_id: Id | None | UnsetType = UNSET
    team_ids: Ids | UnsetType = UNSET
    start_date: Day | None | UnsetType = UNSET
    status: Status | UnsetType = UNSET


class EmployeeOut(msgspec.Struct):
    id: str
    name: str
    email: str | None
    job_role_id: str | None
    team_ids: list[str]
    start_date: str | None
    status: str
    version: int
    created_at: int
    updated_at: int


class EmployeeQuery(PageQuery):
    team_id: Id | None = None
    job_role_id: Id | None = None
    status: Status | None = None
    q: Query | None = None


# ------------------------------------------------------------------------------------------------ teams
class TeamIn(Strict):
    name: Title
    description: Text = ""
    lead_employee_id: Id | None = None
    member_ids: Ids = []


class TeamPatch(Strict):
    version: Version
    name: Title | UnsetType = UNSET
    description: Text | UnsetType = UNSET
    lead_employee_id: Id | None | UnsetType = UNSET
    member_ids: Ids | UnsetType = UNSET


class TeamOut(msgspec.Struct):
    id: str
    name: str
    description: str
    lead_employee_id: str | None
    member_ids: list[str]
    version: int
    created_at: int
    updated_at: int


# ------------------------------------------------------------------------------------------------ assessments
QuestionId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,40}$")]


class Question(Strict):
    id: QuestionId
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=1000, pattern=NOT_BLANK)]
    kind: Literal["text", "scale", "choice", "yes_no"] = "text"


Questions = Annotated[list[Question], msgspec.Meta(min_length=1, max_length=50)]


class AssessmentIn(Strict):
    title: Title
    questions: Questions
    job_role_id: Id | None = None


class AssessmentPatch(Strict):
    version: Version
    title: Title | UnsetType = UNSET
    job_role_id: Id | None | UnsetType = UNSET
    questions: Questions | UnsetType = UNSET


class AssessmentOut(msgspec.Struct):
    id: str
    title: str
    job_role_id: str | None
    questions: list[Question]
    version: int
    created_at: int
    updated_at: int


class AssessmentQuery(PageQuery):
    job_role_id: Id | None = None


# ------------------------------------------------------------------------------------------------ responses
Answers = Annotated[dict[QuestionId, Annotated[str, msgspec.Meta(max_length=5000)]], msgspec.Meta(max_length=50)]
Score = Annotated[float, msgspec.Meta(ge=0, le=100)]


class ResponseIn(Strict):
    subject_type: Literal["candidate", "employee"]
    subject_id: Id
    answers: Answers
    score: Score | None = None
    notes: Notes = ""


class ResponsePatch(Strict):
    version: Version
    answers: Answers | UnsetType = UNSET
    score: Score | None | UnsetType = UNSET
    notes: Notes | UnsetType = UNSET


class ResponseOut(msgspec.Struct):
    id: str
    assessment_id: str
    subject_type: str
    subject_id: str
    answers: dict[str, str]
    score: float | None
    notes: str
    version: int
    created_at: int
    updated_at: int


class ResponseQuery(PageQuery):
    subject_id: Id | None = None


# ------------------------------------------------------------------------------------------------ declarations
class Kind(msgspec.Struct, frozen=True, eq=False):  # compared and hashed by identity: one declaration per kind
    name: str  # the collection in URLs: /api/<name>
    prefix: str  # the partition (T#<tenant>#<prefix>) and, lower-cased, the id prefix
    entity: str  # the singular in audit actions and targets: "<entity>.created", "<entity>:<id>"
    permission: str  # the RBAC permission every route of this kind needs
    create: type
    patch: type
    out: type
    query: type = PageQuery
    refs: dict[str, str] = msgspec.field(default_factory=dict)  # field -> kind name it points at (counted: in use)
    # list field -> (kind, that kind's list field) kept in step both ways: a team's member_ids and its members'
    # team_ids are one fact, written together. Deleting either side takes the id out of the other.
    links: dict[str, tuple[str, str]] = msgspec.field(default_factory=dict)
    sensitive: tuple[str, ...] = ()  # sealed together in one Encryption SDK message
    filters: tuple[str, ...] = ()  # query fields that filter on the field of the same name (see ``contains``)
    contains: dict[str, str] = msgspec.field(default_factory=dict)  # query field -> list field it must be in
    # a reference whose kind another field names: subject_id -> ("subject_type", {"candidate": "candidates", ...})
    poly_refs: dict[str, tuple[str, dict[str, str]]] = msgspec.field(default_factory=dict)
    # a kind that lives under another: (parent kind, field holding the parent id); routes nest under the parent
    parent: tuple[str, str] | None = None
    audit_reads: bool = False  # reading opens personal data: each read (a page: one event) is an audit event
    # plain fields a list's ``q`` finds records by (the prefix of any of their words; never a sealed field)
    search: tuple[str, ...] = ()
    # the plan's monthly counter each creation counts against, in the creation's transaction ("candidates": see
    # protu.billing.service.MONTHLY); at the plan's limit a creation is refused (402)
    quota: str | None = None
    # whom a record is about: "id" (the record is a person) or the field naming the person (a ref or poly_ref to a
    # person kind). Their personal key seals the sensitive fields, and a record about a person is theirs: listed on
    # their page (/api/<person kind>/{id}/<kind>), in their export (under the kind's name), and erased with them.
    # Erasing that person destroys the key, so the fields are unreadable everywhere, backups included.
    subject: str | None = None
    # rules that need more than one record's own fields, checked before each create and update:
    # validate(tenant_id, values, parent) with the record's values (after the change) and its parent record's
    # (None for a kind without a parent); raises a ProtuError (422 ValidationFailed) to refuse the write
    validate: Callable[[str, dict[str, Any], dict[str, Any] | None], None] | None = None
    # what ``validate`` refuses, for the API document: (status, code, when, the field its 422 names or None) each
    refuses: tuple[tuple[int, str, str, str | None], ...] = ()
    example: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def id_prefix(self) -> str:
        return self.prefix.lower()

    @property
    def is_person(self) -> bool:
        """A record of this kind is a person (a candidate, an employee): it can be exported and erased."""
        return self.subject == "id"

    @property
    def subject_field(self) -> str | None:
        """The field naming the person a record is about; None for a person's own record or one about nobody."""
        return None if self.subject in (None, "id") else self.subject

    @property
    def indexed(self) -> tuple[str, ...]:
        """The fields its lists are served by indexes for (``directory.store``): its filters, its parent's field and
        its subject's; record ids first (the most selective: with several filters, the first is the index)."""
        names = [*self.filters, *([self.parent[1]] if self.parent else [])]
        if self.subject_field and self.subject != "id":
            names.append(self.subject_field)
        names = list(dict.fromkeys(names))
        is_id = {*self.refs, *self.poly_refs, *([self.parent[1]] if self.parent else [])}
        return tuple(sorted(names, key=lambda name: name not in is_id))

    def subjects(self) -> list[tuple[str, str, dict[str, str]]]:
        """The kinds of person a record may be about and how it names one: (the person kind's name, the field
        holding their id, other fields and the values they hold then). A response names a candidate or an employee
        (``subject_type``); a kind whose subject field is a plain reference names one kind of person."""
        name = self.subject_field
        if name in self.poly_refs:
            type_field, targets = self.poly_refs[name]
            return [(target, name, {type_field: type_name}) for type_name, target in targets.items()]
        if name in self.refs:
            return [(self.refs[name], name, {})]
        return []

    def fields(self) -> list[str]:
        return list(self.create.__struct_fields__)


ROLES = Kind(
    name="roles",
    prefix="ROLE",
    entity="role",
    permission="roles",
    create=RoleIn,
    patch=RolePatch,
    out=RoleOut,
    example={"title": "Backend engineer", "department": "Engineering", "level": "Senior", "description": ""},
)

CANDIDATES = Kind(
    name="candidates",
    prefix="CAND",
    entity="candidate",
    permission="candidates",
    create=CandidateIn,
    patch=CandidatePatch,
    out=CandidateOut,
    query=CandidateQuery,
    refs={"job_role_id": "roles"},
    sensitive=("notes",),
    filters=("stage", "job_role_id"),
    quota="candidates",
    subject="id",
    audit_reads=True,
    search=("name", "email"),
    example={"name": "Maria Lopez", "email": "maria@example.com", "stage": "screening", "source": "referral"},
)

EMPLOYEES = Kind(
    name="employees",
    prefix="EMP",
    entity="employee",
    permission="employees",
    create=EmployeeIn,
    patch=EmployeePatch,
    out=EmployeeOut,
    query=EmployeeQuery,
    refs={"job_role_id": "roles"},
    links={"team_ids": ("teams", "member_ids")},
    filters=("job_role_id", "status"),
    contains={"team_id": "team_ids"},
    subject="id",
    audit_reads=True,
    search=("name", "email"),
    example={"name": "Sam Lee", "email": "sam@example.com", "start_date": "2024-03-01", "status": "active"},
)

TEAMS = Kind(
    name="teams",
    prefix="TEAM",
    entity="team",
    permission="teams",
    create=TeamIn,
    patch=TeamPatch,
    out=TeamOut,
    refs={"lead_employee_id": "employees"},
    links={"member_ids": ("employees", "team_ids")},
    example={"name": "Platform", "description": "Runs the shared services"},
)

ASSESSMENTS = Kind(
    name="assessments",
    prefix="ASMT",
    entity="assessment",
    permission="assessments",
    create=AssessmentIn,
    patch=AssessmentPatch,
    out=AssessmentOut,
    query=AssessmentQuery,
    refs={"job_role_id": "roles"},
    filters=("job_role_id",),
    example={
        "title": "Engineering interview",
        "questions": [{"id": "q1", "text": "Describe a system you designed.", "kind": "text"}],
    },
)


def _answers_only_asked_questions(tenant_id: str, values: dict[str, Any], assessment: dict[str, Any] | None) -> None:
    """A response answers only its assessment's questions (422 ``unknown_question``)."""

    if assessment is None:
        return
    asked = {question["id"] for question in assessment.get("questions") or []}
    unknown = sorted(set(values.get("answers") or {}) - asked)
    if unknown:
        raise errors.ValidationFailed(
            f"These answers are to questions the assessment does not ask: {', '.join(unknown[:5])}.",
            code="unknown_question",
            details={"field": "answers"},
        )


RESPONSES = Kind(
    name="responses",
    prefix="RESP",
    entity="response",
    permission="assessments",
    create=ResponseIn,
    patch=ResponsePatch,
    out=ResponseOut,
    query=ResponseQuery,
    poly_refs={"subject_id": ("subject_type", {"candidate": "candidates", "employee": "employees"})},
    sensitive=("answers", "notes"),
    subject="subject_id",
    filters=("subject_id",),
    parent=("assessments", "assessment_id"),
    audit_reads=True,
    validate=_answers_only_asked_questions,
    refuses=((422, "unknown_question", "An answer is to a question the assessment does not ask.", "answers"),),
    example={"subject_type": "candidate", "subject_id": "cand-0123456789abcdef0123", "answers": {"q1": "..."}},
)

# ------------------------------------------------------------------------------------------------ the registry
KINDS: dict[str, Kind] = {}
"""Every declared kind by name, in declaration order: what the routes, the service, the company's export and
erasure, and the backup's restore test are made from. Only ``register`` adds to it."""


def register(*declared: Kind) -> None:
    """Add kinds to ``KINDS``, checked as one: a unique name and partition, an id prefix records can have, a known
    permission (``protu.identity.rbac``), references to declared kinds, a subject naming a person, sensitive fields
    among the kind's own. A kind declared after the API's routes were made (``protu.http.directory.router``) has
    routes only in a router made again (``protu.http.directory.build``)."""

    names, prefixes = set(KINDS), {kind.prefix for kind in KINDS.values()}
    for kind in declared:
        if kind.name in names or kind.prefix in prefixes:
            raise ValueError(f"kind {kind.name!r}: its name or its prefix {kind.prefix!r} is already declared")
        if not re.fullmatch(r"[a-z]{2,8}", kind.id_prefix) or not re.fullmatch(r"[a-z][a-z_]*", kind.name):
            raise ValueError(f"kind {kind.name!r}: a name of a-z and a prefix of 2 to 8 letters, please")
        names.add(kind.name)
        prefixes.add(kind.prefix)
    known = {**KINDS, **{kind.name: kind for kind in declared}}
    for kind in declared:
        problem = _problem(kind, known, PERMISSIONS)
        if problem:
            raise ValueError(f"kind {kind.name!r}: {problem}")
    KINDS.update((kind.name, kind) for kind in declared)


def unregister(kind: Kind) -> None:
    """Take a kind out of ``KINDS`` (a test's or a plugin's kind, when it is done); refused while others name it."""
    users = [other.name for other in KINDS.values() if other is not kind and kind.name in _targets(other)]
    if users:
        raise ValueError(f"kind {kind.name!r} is named by {', '.join(users)}")
    if KINDS.get(kind.name) is kind:
        del KINDS[kind.name]


def about(person: Kind) -> list[tuple[Kind, str, dict[str, str]]]:
    """The kinds whose records may be about a person of kind ``person``, and how each names them (see
    ``Kind.subjects``): what their page lists, their export holds and their erasure deletes."""
    return [
        (kind, name, where)
        for kind in KINDS.values()
        for target, name, where in kind.subjects()
        if target == person.name
    ]


def _targets(kind: Kind) -> set[str]:
    """The kinds a kind's records name."""
    found = set(kind.refs.values()) | {other for other, _ in kind.links.values()}
    found |= {target for _, targets in kind.poly_refs.values() for target in targets.values()}
    return found | ({kind.parent[0]} if kind.parent else set())


def _problem(kind: Kind, known: dict[str, Kind], permissions: frozenset[str]) -> str | None:
    if kind.permission not in permissions:
        return f"its permission {kind.permission!r} is not in protu.identity.rbac.PERMISSIONS"
    if set(kind.search) & set(kind.sensitive):
        return "a sealed field cannot be searched (its words would be stored in clear)"
    if kind.search and "q" not in kind.query.__struct_fields__:
        return "it searches but its query takes no q"
    if len(kind.indexed) > INDEX_SLOTS:
        return f"it indexes {len(kind.indexed)} fields ({', '.join(kind.indexed)}): the data table has {INDEX_SLOTS}"
    missing = sorted(_targets(kind) - set(known))
    if missing:
        return f"it names kinds that are not declared: {', '.join(missing)}"
    if not set(kind.sensitive) <= set(kind.fields()):
        return "its sensitive fields must be fields of its create schema"
    if kind.subject_field is not None:
        persons = [known[target].is_person for target, _, _ in kind.subjects()]
        if not persons or not all(persons):
            return f"its subject {kind.subject!r} must be a reference (refs or poly_refs) to a person kind"
    return None


register(ROLES, TEAMS, EMPLOYEES, CANDIDATES, ASSESSMENTS, RESPONSES)
