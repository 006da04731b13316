"""The identity a request carries once authenticated, and the scope each operation needs."""

from __future__ import annotations

from dataclasses import dataclass

from tmfgate.model import ApiModel, OperationModel

PRINCIPAL = "tmfgate.principal"  # the scope key of the authenticated principal
ALL = "tmfgate:all"  # sees every partner's resources: the operator's own back office
ADMIN = "tmfgate:admin"  # the operator API
_READ_METHODS = frozenset({"get", "head"})


@dataclass(frozen=True, slots=True)
class Principal:
    """A partner and the scopes its token or API key grants."""

    partner: str
    scopes: frozenset[str]

    @property
    def sees_all(self) -> bool:
        return ALL in self.scopes

    def allows(self, scope: str) -> bool:
        return scope in self.scopes


def required_scope(api: ApiModel, operation: OperationModel) -> str:
    """``tmfNNN:read`` for GET (hub listing too), ``tmfNNN:write`` for the rest; ``tmfgate:admin`` for
    the operator API. The prefix is the spec stem's first part (``tmf622_product_ordering``), unless
    the spec's ``info`` names it in ``x-scope-prefix`` (an API of tmfgate's own that serves a TMF API's
    resources in another form)."""
    declared = api.spec.document.get("info", {}).get("x-scope-prefix")
    prefix = str(declared) if declared else api.name.split("_", 1)[0]
    if prefix == "tmfgate":
        return ADMIN
    return f"{prefix}:{'read' if operation.method in _READ_METHODS else 'write'}"


__all__ = ["ADMIN", "ALL", "PRINCIPAL", "Principal", "required_scope"]
