"""Every subclass of a connexion internal, kept in this one module.

Connexion 3 gives the gateway its routing, its docs UI and the spec's operations; the gateway
plugs its own steps into them by subclassing classes connexion does not document as public. They
were written for the connexion versions in :data:`WRITTEN_FOR`; ``tests/test_routing.py`` fails
with a sentence saying so on any other version, before anything subtler breaks.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from importlib.metadata import version
from typing import Any, ClassVar, TypeVar

import orjson
from connexion.middleware.abstract import ROUTING_CONTEXT, RoutedAPI, RoutedMiddleware
from connexion.middleware.main import API as ConnexionApi
from connexion.middleware.main import ConnexionMiddleware
from connexion.middleware.routing import RoutingMiddleware
from connexion.middleware.swagger_ui import SwaggerUIMiddleware
from connexion.operations import AbstractOperation
from connexion.resolver import Resolution, Resolver
from connexion.spec import OpenAPISpecification
from starlette.types import ASGIApp, Receive, Scope, Send

from tmfgate.calls import Function, Reply
from tmfgate.endpoints import Endpoint, FacedEndpoint, not_found, send_reply
from tmfgate.errors import MethodNotAllowed
from tmfgate.extensions import Extension
from tmfgate.gateway import Gateway
from tmfgate.model import ApiModel, OperationModel
from tmfgate.resolver import function_for
from tmfgate.security.guard import Guard
from tmfgate.validation import OperationValidator

WRITTEN_FOR = ("3.3",)  # connexion major.minor versions these subclasses were written against
API = TypeVar("API", bound=RoutedAPI[Any])
# Builds the ASGI app of one operation for a routed middleware: the next app, the API, the
# operation, the function serving it, the gateway.
Build = Callable[[ASGIApp, ApiModel, OperationModel, Function, Gateway], ASGIApp]


def connexion_problem() -> str | None:
    """Why the installed connexion may not fit these subclasses, or None when it is one they were written for."""
    installed = version("connexion")
    if ".".join(installed.split(".")[:2]) in WRITTEN_FOR:
        return None
    return (
        f"tmfgate.routing subclasses connexion internals written for connexion {', '.join(WRITTEN_FOR)}.x, "
        f"but connexion {installed} is installed; check ConnexionMiddleware, OpenAPISpecification, "
        "RoutedAPI, RoutedMiddleware, RoutingMiddleware, SwaggerUIMiddleware and Resolver against it, "
        "then add its version to WRITTEN_FOR."
    )


def _digest(spec: dict[str, Any]) -> bytes:
    return hashlib.sha256(orjson.dumps(spec, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)).digest()


class SharedSpecification(OpenAPISpecification):
    """An OpenAPI 3 document that connexion copies and resolves once per process and per text.

    Connexion deep-copies a document twice and resolves its references each time it builds a spec: per
    app, per alias, per docs clone; that was ~70 % of an app's build (profiled), and a test process builds
    hundreds. Each instance gets the resolved document's top level to itself, the one level connexion
    changes (``servers`` for a base path); below it the document is shared, as connexion only reads it
    there (but for setting a body definition's ``components``, the same for every instance of a text).
    """

    _built: ClassVar[dict[tuple[type, bytes, str], tuple[dict[str, Any], dict[str, Any]]]] = {}

    def __init__(self, raw_spec: dict[str, Any], *, base_uri: str = "") -> None:
        self._set_defaults(raw_spec)
        key = (type(self), _digest(raw_spec), base_uri)  # a subclass checks a text its own way
        if key not in self._built:
            super().__init__(raw_spec, base_uri=base_uri)
            self._built[key] = (self.raw, self.spec)
        raw, resolved = self._built[key]
        self._raw_spec, self._spec, self._base_uri = dict(raw), dict(resolved), base_uri


class CheckedSpecification(SharedSpecification):
    """An OpenAPI 3 document that connexion checks against the OpenAPI schema once per process.

    Connexion checks each time it builds a spec: per app, per alias, per docs clone. At about a second a
    spec that was 15 of an app's 21 s start-up (profiled); a test process builds many apps of one spec set.
    """

    _valid: ClassVar[set[bytes]] = set()  # digests of the documents found valid

    @classmethod
    def _validate_spec(cls, spec: dict[str, Any]) -> None:
        digest = _digest(spec)
        if digest not in cls._valid:
            super()._validate_spec(spec)
            cls._valid.add(digest)


class FaceSpecification(SharedSpecification):
    """The text of another version of an API (tmfgate.versions), which connexion does not check.

    Connexion's check of the eleven v5 texts, rich in ``oneOf``, took 15 s of a 24 s start-up on two
    cores (profiled), in every process; ``tests/test_specs.py`` checks them with openapi-spec-validator.
    """

    @classmethod
    def _validate_spec(cls, spec: dict[str, Any]) -> None:
        return None


class GatewayMiddleware(ConnexionMiddleware):
    """Connexion's main middleware, with each API's document built as a :class:`CheckedSpecification`."""

    def add_api(
        self, specification: dict[str, Any], *, base_path: str, name: str, resolver: Resolver, **kwargs: Any
    ) -> None:
        if self.middleware_stack is not None:
            raise RuntimeError("Cannot add an API after the application has started.")
        options = self.options.replace(resolver=resolver)
        model = kwargs.get("model")
        face = isinstance(model, ApiModel) and model.face is not None
        spec = (FaceSpecification if face else CheckedSpecification)(specification)
        self.apis.append(ConnexionApi(spec, base_path=base_path, name=name, **options.__dict__, **kwargs))


class OperationResolver(Resolver):
    """Resolves the operations of one API: its extension's function first, then the generic verb."""

    def __init__(self, model: ApiModel, extension: Extension | None) -> None:
        super().__init__()
        self.model = model
        self.extension = extension

    def resolve(self, operation: AbstractOperation) -> Resolution:
        operation_id = operation.operation_id
        face = self.model.face
        if face is not None:  # another version: the home version's operation serves it
            home = face.operation(self.model.operations[operation_id])
            if home is not None and home.operation_id in face.home.operations:
                return Resolution(function_for(face.home, self.extension, home.operation_id), operation_id)
        return Resolution(function_for(self.model, self.extension, operation_id), operation_id)


class OperationsApi(RoutedAPI[ASGIApp]):
    """The operations of one API inside a routed middleware, each built by that middleware."""

    def __init__(self, *args: Any, model: ApiModel, gateway: Gateway, build: Build, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.model, self.gateway, self.build = model, gateway, build
        self.add_paths()

    def make_operation(self, operation: AbstractOperation) -> ASGIApp:
        model = self.model.operations[operation.operation_id]
        return self.build(self.next_app, self.model, model, operation.function, self.gateway)


class TableRoutedMiddleware(RoutedMiddleware[OperationsApi]):
    """A routed middleware whose operations are found with one lookup.

    Connexion finds a routed request's operation by its base path's APIs, then API by API by id;
    here the operations are also kept by ``(base path, operation id)``, one dictionary lookup away.
    """

    api_cls = OperationsApi
    build: Build

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self.table: dict[tuple[str, str | None], Any] = {}

    def add_api(self, specification: Any, **kwargs: Any) -> OperationsApi:
        api: OperationsApi = super().add_api(specification, build=type(self).build, **kwargs)
        for operation_id, operation in api.operations.items():
            # The first API of a base path wins, as in connexion's own lookup.
            self.table.setdefault((api.base_path, operation_id), operation)
        return api

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extensions = scope.get("extensions")
        context = extensions.get(ROUTING_CONTEXT) if extensions else None
        if context is not None and scope["type"] == "http":
            operation = self.table.get((context.get("api_base_path"), context.get("operation_id")))
            if operation is not None:
                await operation(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def _validator(next_app: ASGIApp, api: ApiModel, op: OperationModel, function: Function, gateway: Gateway) -> ASGIApp:
    return OperationValidator(next_app, api, op, gateway.settings)


def _guard(next_app: ASGIApp, api: ApiModel, op: OperationModel, function: Function, gateway: Gateway) -> ASGIApp:
    security = gateway.security
    return Guard(next_app, api, op, security) if security.active else next_app


def _endpoint(next_app: ASGIApp, api: ApiModel, op: OperationModel, function: Function, gateway: Gateway) -> ASGIApp:
    if api.face is not None:
        return FacedEndpoint(gateway, api, op, function)
    return Endpoint(gateway, api, op, function)


class SecurityMiddleware(TableRoutedMiddleware):
    """Authentication, scopes and the audit log of each operation (:mod:`tmfgate.security.guard`);
    a step that passes requests straight on when neither authentication nor the audit log is on."""

    build = staticmethod(_guard)


class RequestValidationMiddleware(TableRoutedMiddleware):
    """Validates each request against its operation in the spec (:mod:`tmfgate.validation`)."""

    build = staticmethod(_validator)


class EndpointMiddleware(TableRoutedMiddleware):
    """The innermost app: calls the function serving the routed operation (:mod:`tmfgate.endpoints`)."""

    build = staticmethod(_endpoint)

    def __init__(self) -> None:
        super().__init__(not_found)


class DocsMiddleware(SwaggerUIMiddleware):
    """What describes the APIs: ``{base}/openapi.json`` (our bundled spec), connexion's ``{base}/ui/``,
    an index of each API at its base URL, and at ``/`` the list of the APIs served.

    Connexion would serve its ref-resolved copy of the spec, which cannot be written as JSON when a
    schema is recursive (TMF622 order items hold order items), and re-validates the spec on every
    request; the bundled document is encoded once instead. API calls skip this layer quickly.
    """

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self.documents: dict[str, bytes] = {}
        self.indexes: dict[str, tuple[ApiModel, str]] = {}  # base path -> the API and its own base path
        self.gateway: Gateway | None = None

    def add_api(self, specification: Any, base_path: str | None = None, arguments: Any = None, **kwargs: Any) -> None:
        super().add_api(specification, base_path=base_path, arguments=arguments, **kwargs)
        model, gateway = kwargs.get("model"), kwargs.get("gateway")
        if isinstance(model, ApiModel):
            self.documents[f"{model.base_path}/openapi.json"] = orjson.dumps(model.spec.document)
            self.indexes[(base_path or model.base_path).rstrip("/")] = (model, model.base_path)
        if isinstance(gateway, Gateway):
            self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        elif scope["method"] in ("GET", "HEAD") and (path == "/" or path.rstrip("/") in self.indexes):
            await send_reply(send, Reply.json(200, self._index(scope, path.rstrip("/"))))
        elif "/ui" not in path and not path.endswith("/openapi.json"):
            await self.app(scope, receive, send)
        elif path in self.documents and scope["method"] in ("GET", "HEAD"):
            await send_reply(send, Reply(200, self.documents[path]))
        else:
            await super().__call__(scope, receive, send)

    def _index(self, scope: Scope, base: str) -> Any:
        """An API's resources and documents at its base URL; the APIs served at ``/``."""
        root = _root_url(scope, self.gateway)
        if base in self.indexes:
            api, own = self.indexes[base]
            return {
                "name": api.spec.title,
                "version": str(api.spec.document.get("info", {}).get("version", "")),
                "href": f"{root}{own}",
                "resources": [{"name": kind, "href": f"{root}{own}/{kind}"} for kind in api.resources if kind != "hub"],
                "openapi": f"{root}{own}/openapi.json",
                "ui": f"{root}{own}/ui/",
                "@type": "ApiIndex",
            }
        apis = {id(api): api for api, _ in self.indexes.values()}.values()
        return [
            {
                "id": api.name if api.face is None else f"{api.name}_v{api.spec.version}",
                "name": api.spec.title,
                "version": str(api.spec.document.get("info", {}).get("version", "")),
                "href": f"{root}{api.base_path}",
                "@type": "ApiIndex",
            }
            for api in sorted(apis, key=lambda api: api.base_path)
        ]


def _root_url(scope: Scope, gateway: Gateway | None) -> str:
    """Scheme and host the client reached the gateway at (``public_url`` when it is set)."""
    if gateway is not None and gateway.settings.public_url:
        return gateway.settings.public_url
    host = next((value.decode("latin-1") for key, value in scope["headers"] if key == b"host"), None)
    if host is None:
        server = scope.get("server") or ("localhost", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"


class FastRoutingMiddleware(RoutingMiddleware):
    """Connexion's routing step, with the spec's routes in a table built at start-up.

    A request whose method and path match a route of the table is sent on with the same routing
    information connexion's Starlette router would attach (one trailing slash is forgiven, TMF630:
    the kits call ``.../resource/``); ``HEAD`` is served as ``GET`` without the body. A known path
    asked with a method the spec does not give it is a 405 whose ``Allow`` lists the methods the
    spec gives that path; ``OPTIONS`` answers those methods. Anything else goes to connexion's
    router, whose 404 stays.
    """

    def __init__(self, app: ASGIApp) -> None:
        super().__init__(app)
        self.static: dict[tuple[str, str], tuple[str, str]] = {}
        self.templated: list[tuple[str, re.Pattern[str], str, str]] = []
        self.allowed: dict[str, set[str]] = {}  # a static path -> its methods
        self.allowed_templates: dict[str, tuple[re.Pattern[str], set[str]]] = {}  # by pattern text

    def add_api(self, specification: Any, base_path: str | None = None, arguments: Any = None, **kwargs: Any) -> None:
        super().add_api(specification, base_path=base_path, arguments=arguments, **kwargs)
        base = (base_path or "").rstrip("/")
        for path, item in specification.raw.get("paths", {}).items():
            for method, operation in item.items():
                if not isinstance(operation, dict) or "operationId" not in operation:
                    continue
                route = (method.upper(), base, operation["operationId"])
                if "{" not in path:
                    self.static[(route[0], base + path)] = (base, route[2])
                    self.allowed.setdefault(base + path, set()).add(route[0])
                else:
                    pattern = re.escape(base) + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path)) + "$"
                    compiled = re.compile(pattern)
                    self.templated.append((route[0], compiled, base, route[2]))
                    self.allowed_templates.setdefault(pattern, (compiled, set()))[1].add(route[0])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        path = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
            scope = dict(scope, path=path, raw_path=path.encode())
        method = scope["method"]
        routed = self._route("GET" if method == "HEAD" else method, path)
        if routed is not None:
            found, params = routed
            if method == "HEAD":  # the server's own scope still says HEAD, so it sends no body
                scope = dict(scope, method="GET")
            # The scope is this request's own, so it is completed in place, as Starlette's
            # router does, rather than copied with its extensions for every request.
            scope["path_params"] = (
                {**scope.get("path_params", {}), **params} if params else scope.get("path_params", {})
            )
            extensions = scope.get("extensions")
            if extensions is None:
                extensions = scope["extensions"] = {}
            extensions[ROUTING_CONTEXT] = {"api_base_path": found[0], "operation_id": found[1]}
            await self.app(scope, receive, send)
            return
        allowed = self._methods(path)
        if allowed:
            methods = ", ".join(sorted(allowed | ({"HEAD"} if "GET" in allowed else set())))
            if method == "OPTIONS":
                await send_reply(send, Reply(204, None, [(b"allow", methods.encode())]))
                return
            raise MethodNotAllowed(
                f"{method} is not defined for this path; it allows {methods}.", headers=((b"allow", methods.encode()),)
            )
        await super().__call__(scope, receive, send)

    def _route(self, method: str, path: str) -> tuple[tuple[str, str], dict[str, str]] | None:
        found = self.static.get((method, path))
        if found is not None:
            return found, {}
        for route_method, pattern, base, operation_id in self.templated:
            match = pattern.match(path) if route_method == method else None
            if match:
                return (base, operation_id), match.groupdict()
        return None

    def _methods(self, path: str) -> set[str]:
        """The methods the specs give ``path``; empty for a path they do not have."""
        if path in self.allowed:
            return self.allowed[path]
        return next((methods for pattern, methods in self.allowed_templates.values() if pattern.match(path)), set())
