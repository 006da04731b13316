"""The security step of the request path: authenticate, check the operation's scope, audit.

Built once per operation (:class:`tmfgate.routing.SecurityMiddleware`), before request validation,
so a caller without credentials learns nothing about the API from validation errors.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tmfgate.errors import ApiError, ConfigurationError, Forbidden, Unauthorized
from tmfgate.ids import new_id
from tmfgate.model import ApiModel, OperationModel
from tmfgate.security.audit import AuditLog
from tmfgate.security.credentials import ApiKeys, InvalidCredentials, KeySet, Tokens
from tmfgate.security.principals import PRINCIPAL, Principal, required_scope
from tmfgate.settings import Settings

_READS = frozenset({"get", "head"})
_CORRELATION = (b"x-correlation-id", b"x-request-id")


class Security:
    """The gateway's authentication methods and audit log, from its settings."""

    def __init__(self, settings: Settings) -> None:
        methods = [m for m in settings.auth.split(",") if m]
        self.tokens: Tokens | None = None
        self.api_keys: ApiKeys | None = None
        if "jwt" in methods:
            missing = [o for o, v in (("--jwks", settings.jwks), ("--issuer", settings.issuer),
                                      ("--audience", settings.audience)) if not v]  # fmt: skip
            if missing:
                raise ConfigurationError(f"--auth jwt needs {', '.join(missing)} as well.")
            keys = KeySet(settings.jwks)
            self.tokens = Tokens(
                keys, issuer=settings.issuer, audience=settings.audience, partner_claim=settings.partner_claim
            )
        if "apikey" in methods:
            if not settings.api_keys:
                raise ConfigurationError("--auth apikey needs --api-keys FILE as well.")
            self.api_keys = ApiKeys(settings.api_keys)
        self.audit = AuditLog(settings.audit_log) if settings.audit_log else None

    @property
    def authenticates(self) -> bool:
        return self.tokens is not None or self.api_keys is not None

    @property
    def active(self) -> bool:
        return self.authenticates or self.audit is not None

    async def authenticate(self, headers: list[tuple[bytes, bytes]]) -> Principal:
        """The principal of a request's credentials; Unauthorized with a challenge otherwise."""
        bearer = api_key = None
        for key, value in headers:
            if key == b"authorization":
                scheme, _, credentials = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    bearer = credentials.strip()
            elif key == b"x-api-key":
                api_key = value.decode("latin-1").strip()
        try:
            if bearer and self.tokens is not None:
                return await self.tokens.principal(bearer)
            if api_key and self.api_keys is not None:
                return self.api_keys.principal(api_key)
        except InvalidCredentials as exc:
            raise Unauthorized(
                f"The credentials were refused: {exc}.", headers=self.challenge("invalid_token")
            ) from None
        raise Unauthorized(
            "This API needs credentials: " + " or ".join(self._accepted()) + ".", code="40", headers=self.challenge()
        )

    def challenge(self, error: str | None = None, scope: str | None = None) -> tuple[tuple[bytes, bytes], ...]:
        """``WWW-Authenticate`` for each accepted method (RFC 6750 §3 for bearer tokens)."""
        values = []
        if self.tokens is not None:
            extra = f', error="{error}"' if error else ""
            extra += f', scope="{scope}"' if scope else ""
            values.append(f'Bearer realm="tmfgate"{extra}')
        if self.api_keys is not None:
            values.append('ApiKey realm="tmfgate", header="X-API-Key"')
        return tuple((b"www-authenticate", value.encode()) for value in values)

    def _accepted(self) -> list[str]:
        return (["a bearer token (Authorization: Bearer ...)"] if self.tokens else []) + (
            ["an API key (X-API-Key)"] if self.api_keys else []
        )

    def close(self) -> None:
        if self.audit is not None:
            self.audit.close()


class Guard:
    """One operation behind authentication, its scope and the audit log."""

    def __init__(self, next_app: ASGIApp, api: ApiModel, operation: OperationModel, security: Security) -> None:
        self.next_app, self.security = next_app, security
        self.api, self.operation_id = api.name, operation.operation_id
        self.scope_name = required_scope(api, operation)
        self.write = operation.method not in _READS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        audit = self.security.audit
        correlation = _correlation(scope) if audit is not None else None
        principal: Principal | None = None
        if self.security.authenticates:
            try:
                principal = await self.security.authenticate(scope["headers"])
                if not principal.allows(self.scope_name):
                    raise Forbidden(
                        f"The partner {principal.partner} lacks the scope {self.scope_name} this operation needs.",
                        headers=self.security.challenge("insufficient_scope", self.scope_name),
                    )
            except ApiError as refused:
                if audit is not None:
                    self._record(audit, scope, principal, refused.status, correlation, None)
                raise
            scope[PRINCIPAL] = principal
        if audit is None or not self.write:
            await self.next_app(scope, receive, send)
            return
        answered: dict[str, object] = {"status": 500, "location": None}

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered["status"] = message["status"]
                headers = dict(message.get("headers", []))
                answered["location"] = headers.get(b"location")
            await send(message)

        try:
            await self.next_app(scope, receive, sending)
        except ApiError as error:
            answered["status"] = error.status
            raise
        finally:
            location = answered["location"]
            created = location.decode("latin-1").rsplit("/", 1)[-1] if isinstance(location, bytes) else None
            status = answered["status"]
            self._record(audit, scope, principal, status if isinstance(status, int) else 500, correlation, created)

    def _record(
        self,
        audit: AuditLog,
        scope: Scope,
        principal: Principal | None,
        status: int,
        correlation: str | None,
        created: str | None,
    ) -> None:
        params = scope.get("path_params") or {}
        audit.record(
            partner=principal.partner if principal is not None else None,
            api=self.api,
            operation=self.operation_id,
            resource_id=created or (str(params["id"]) if "id" in params else None),
            status=status,
            correlation_id=correlation,
        )


def _correlation(scope: Scope) -> str:
    """The request's correlation id; one is made (and given to the request) when it has none, so the
    audit record and the events of the change carry the same."""
    for key, value in scope["headers"]:
        if key in _CORRELATION:
            return str(value.decode("latin-1")[:200])
    made = new_id()
    scope["headers"] = [*scope["headers"], (b"x-correlation-id", made.encode())]
    return made


__all__ = ["Guard", "Security"]
