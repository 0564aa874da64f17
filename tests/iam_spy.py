"""Record which permission each backend method asks IAM for (the real IAM still decides)."""

from __future__ import annotations

from typing import Any

from mockserver.backend import Backend, Principal


def record_authorize(backend: Backend) -> list[tuple[str, str]]:
    """From now on, every ``Iam.authorize`` call of ``backend`` as ``(permission, resource)``."""
    calls: list[tuple[str, str]] = []
    real = backend.iam.authorize

    def authorize(principal: Principal, permission: str, resource: str, **kwargs: Any) -> None:
        calls.append((permission, resource))
        real(principal, permission, resource, **kwargs)

    backend.iam.authorize = authorize  # type: ignore[method-assign]
    return calls
