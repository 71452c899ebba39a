"""Who may do what: one table from role to allowed actions, checked by every web handler on the server."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.errors import PermissionDeniedError


class Action(StrEnum):
    """Everything a handler can do on behalf of a user."""

    CRITIQUE = "critique"
    VIEW_DASHBOARD = "view_dashboard"
    ANNOTATE = "annotate"
    REVIEW = "review"
    GRADE_CLASS = "grade_class"
    MANAGE_USERS = "manage_users"
    MANAGE_CAMPAIGNS = "manage_campaigns"
    START_TRAINING = "start_training"
    PROMOTE_MODEL = "promote_model"
    MANAGE_WEBHOOKS = "manage_webhooks"


_VIEWER = {Action.CRITIQUE, Action.VIEW_DASHBOARD}
_ANNOTATOR = _VIEWER | {Action.ANNOTATE, Action.GRADE_CLASS}
_REVIEWER = _ANNOTATOR | {Action.REVIEW}
ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    "viewer": frozenset(_VIEWER),
    "teacher": frozenset(_VIEWER | {Action.GRADE_CLASS}),
    "annotator": frozenset(_ANNOTATOR),
    "reviewer": frozenset(_REVIEWER),
    "admin": frozenset(Action),
}


@dataclass(frozen=True)
class Actor:
    """The logged-in user as handlers see it (no ORM object crosses into Gradio state)."""

    id: int
    username: str
    role: str

    def can(self, action: Action) -> bool:
        return action in ROLE_ACTIONS.get(self.role, frozenset())


def require(actor: Actor | None, action: Action) -> Actor:
    """Return the actor if their role allows `action`, else raise PermissionDeniedError naming both."""
    if actor is None:
        raise PermissionDeniedError(f"log in to {action.value.replace('_', ' ')}")
    if not actor.can(action):
        raise PermissionDeniedError(
            f"user {actor.username!r} (role {actor.role}) may not {action.value.replace('_', ' ')}"
        )
    return actor
