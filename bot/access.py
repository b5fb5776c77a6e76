"""Who may see and change what: one policy for pages, API and websockets (pure, no I/O)."""
from __future__ import annotations

from dataclasses import dataclass

from bot.domain import Role


@dataclass(frozen=True)
class Viewer:
    """The operator behind a request, with what the policy needs to know."""

    id: int
    username: str
    display_name: str
    role: Role
    queue_ids: frozenset[int]

    @property
    def sees_everything(self) -> bool:
        return self.role is Role.ADMIN

    def can_see_ticket(self, queue_id: int, assignee_id: int | None) -> bool:
        """Admins see all; everyone else sees tickets of their queues and tickets assigned to them."""
        return self.sees_everything or queue_id in self.queue_ids or assignee_id == self.id

    def can_assign_others(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)

    def can_see_operators(self) -> bool:
        return self.role in (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)
