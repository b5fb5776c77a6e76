"""Who sees the feedback pages: supervisors and managers run them, admins see everything (pure, no I/O)."""
from __future__ import annotations

from bot.access import Viewer
from bot.domain import Role

MANAGING = (Role.SUPERVISOR, Role.MANAGER, Role.ADMIN)


def sees_register(viewer: Viewer) -> bool:
    """The complaints register, follow-ups and the digest: supervisors, managers and admins."""
    return viewer.role in MANAGING


def sees_all_queues(viewer: Viewer) -> bool:
    """Managers read the whole desk (they may have no queues of their own); supervisors read their queues."""
    return viewer.role in (Role.MANAGER, Role.ADMIN)


def sees_queue_feedback(viewer: Viewer, queue_id: int) -> bool:
    return sees_all_queues(viewer) or (viewer.role is Role.SUPERVISOR and queue_id in viewer.queue_ids)


def sees_complaint(viewer: Viewer, queue_id: int, owner_id: int | None) -> bool:
    """A complaint's owner always sees it; otherwise as for the queue's feedback."""
    return owner_id == viewer.id or sees_queue_feedback(viewer, queue_id)
