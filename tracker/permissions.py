"""Who may do what: public reads, writes with a token and Django's model
permissions, and staff-only resources."""

from __future__ import annotations

from rest_framework import permissions

# Django's "view" permission is not required to read: reads are public or staff-only.
_METHOD_ACTIONS = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


def _model_permission_granted(request, view) -> bool:
    """The model permission an action needs: ``view.action_permissions`` names it
    for custom actions (``{"status": "letters.change_signature"}``), otherwise the
    method decides (POST adds, PUT and PATCH change)."""
    user = request.user
    if not (user and user.is_authenticated):
        return False
    needed = getattr(view, "action_permissions", {}).get(getattr(view, "action", None))
    if needed is None:
        model = view.get_queryset().model
        action = _METHOD_ACTIONS.get(request.method)
        if action is None:
            return False
        needed = f"{model._meta.app_label}.{action}_{model._meta.model_name}"
    return user.has_perm(needed)


class PublicReadModelWrite(permissions.BasePermission):
    """Anyone reads; writing needs an account with the model permission."""

    message = "Writing needs a token of an account with the permission to do this."

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        return _model_permission_granted(request, view)


class StaffReadModelWrite(permissions.BasePermission):
    """Staff read; writing also needs the model permission."""

    message = "This is for staff accounts with the permission to do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        return _model_permission_granted(request, view)
