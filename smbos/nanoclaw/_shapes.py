"""The shapes of the runtime's JSON answers (docs/runtime-api.md, section 1), as pydantic models.

`validate_shape` turns a wrong answer into one `bad_shape` problem naming the first wrong field;
the contract's field names are kept as aliases (`dbExists`), ids are compared as text (SQLite may
give numbers), and unknown fields are ignored (newer runtimes add some).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from smbos.nanoclaw.contract import ProblemKind, RuntimeProblem, snippet


def _id_text(value: Any) -> Any:
    """SQLite ids may come as numbers; the contract's ids are compared as text."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


IdText = Annotated[str, BeforeValidator(_id_text)]


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class Health(_Shape):
    status: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


class Group(_Shape):
    jid: str
    name: str
    folder: str
    trigger_pattern: str | None
    added_at: str


class TaskStats(_Shape):
    total: int
    active: int
    paused: int
    completed: int


class State(_Shape):
    db_exists: bool = Field(alias="dbExists")
    sessions: int
    groups: list[Group]
    task_stats: TaskStats = Field(alias="taskStats")


class Task(_Shape):
    id: IdText
    group_folder: str
    chat_jid: str
    prompt: str
    schedule_type: Literal["cron", "interval", "once"]
    schedule_value: str
    next_run: str | None
    last_run: str | None
    last_result: str | None
    status: Literal["active", "paused", "completed"]
    created_at: str
    context_mode: Literal["group", "isolated"]


class RunLog(_Shape):
    id: int
    task_id: IdText
    run_at: str
    duration_ms: int
    status: Literal["success", "error"]
    result: str | None
    error: str | None


class TasksPage(_Shape):
    tasks: list[Task]
    run_logs: list[RunLog] = Field(alias="runLogs")


class Message(_Shape):
    id: IdText
    sender: str
    sender_name: str | None
    content: str
    timestamp: str
    is_from_me: bool
    is_bot_message: bool


class _MessagesPage(_Shape):
    messages: list[Message]


M = TypeVar("M", bound=BaseModel)


def _loc_text(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def validate_shape(model: type[M], data: Any, route: str) -> M:
    """`data` as `model`, or `bad_shape` naming the first wrong field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        first = errors[0]
        where = _loc_text(tuple(first.get("loc", ())))
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise RuntimeProblem(
            ProblemKind.BAD_SHAPE,
            route,
            f"bad shape at {where}: {snippet(first.get('msg', 'invalid'))}{more}",
            field=where,
        ) from None


def parse_health(data: Any, route: str = "GET /api/health") -> Health:
    return validate_shape(Health, data, route)


def parse_state(data: Any, route: str = "GET /api/state") -> State:
    return validate_shape(State, data, route)


def parse_tasks(data: Any, route: str = "GET /api/tasks") -> TasksPage:
    return validate_shape(TasksPage, data, route)


def parse_messages(data: Any, route: str = "GET /api/messages") -> list[Message]:
    return validate_shape(_MessagesPage, data, route).messages
