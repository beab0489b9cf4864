"""Each kind of company record, declared once: its fields (the msgspec schemas that validate requests and make
the OpenAPI document), which fields name other records, which fields are sensitive (sealed with the company's
key), and which list filters it takes. ``service`` and ``protu.http.directory`` work from these declarations only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, UnsetType

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z]{2,8}-[0-9a-f]{20}$")]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=r"\S")]
Short = Annotated[str, msgspec.Meta(max_length=120)]
Text = Annotated[str, msgspec.Meta(max_length=4000)]
Notes = Annotated[str, msgspec.Meta(max_length=10000)]
Email = Annotated[str, msgspec.Meta(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Stage = Literal["applied", "screening", "interview", "offer", "hired", "rejected"]
Version = Annotated[int, msgspec.Meta(ge=1)]


class Strict(msgspec.Struct, forbid_unknown_fields=True):
    pass


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


class CandidateQuery(PageQuery):
    stage: Stage | None = None
    job_role_id: Id | None = None


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
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=1000, pattern=r"\S")]
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
@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one declaration per kind
class Kind:
    name: str  # the collection in URLs: /api/<name>
    prefix: str  # the partition (T#<tenant>#<prefix>) and, lower-cased, the id prefix
    entity: str  # the singular in audit actions and targets: "<entity>.created", "<entity>:<id>"
    permission: str  # the RBAC permission every route of this kind needs
    create: type
    patch: type
    out: type
    query: type = PageQuery
    refs: dict[str, str] = field(default_factory=dict)  # field -> kind name it points at (counted: in use)
    # list field -> (kind, that kind's list field) kept in step both ways: a team's member_ids and its members'
    # team_ids are one fact, written together. Deleting either side takes the id out of the other.
    links: dict[str, tuple[str, str]] = field(default_factory=dict)
    sensitive: tuple[str, ...] = ()  # sealed together in one Encryption SDK message
    filters: tuple[str, ...] = ()  # query fields that filter on the field of the same name (see ``contains``)
    contains: dict[str, str] = field(default_factory=dict)  # query field -> list field it must be in
    # a reference whose kind another field names: subject_id -> ("subject_type", {"candidate": "candidates", ...})
    poly_refs: dict[str, tuple[str, dict[str, str]]] = field(default_factory=dict)
    # a kind that lives under another: (parent kind, field holding the parent id); routes nest under the parent
    parent: tuple[str, str] | None = None
    audit_reads: bool = False  # reading opens sensitive data about a person: each read is an audit event
    monthly_quota: bool = False  # each creation counts against the plan's monthly limit (protu.billing)
    # whose personal key seals the sensitive fields: "id" (the record is the person) or the field naming them.
    # Erasing that person destroys the key, so the fields are unreadable everywhere, backups included.
    subject: str | None = None
    example: dict[str, Any] = field(default_factory=dict)

    @property
    def id_prefix(self) -> str:
        return self.prefix.lower()

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
    monthly_quota=True,
    subject="id",
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
    example={"subject_type": "candidate", "subject_id": "cand-0123456789abcdef0123", "answers": {"q1": "..."}},
)

KINDS: dict[str, Kind] = {kind.name: kind for kind in (ROLES, TEAMS, EMPLOYEES, CANDIDATES, ASSESSMENTS, RESPONSES)}
