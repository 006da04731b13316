"""The handler contract: what a handler module declares to take part in the gateway.

An extension serves the operations of one API (by spec stem), reacts to events of any API by event
type, checks its configuration, prepares the store at start-up, and brings its own settings and
``tmfgate`` subcommands. Installed extensions are listed as entry points of the group
``tmfgate.extensions``; the core finds nothing else and names no API.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from tmfgate.calls import Function, Reaction
from tmfgate.errors import ConfigurationError
from tmfgate.settings import CORE_SETTINGS, Setting

if TYPE_CHECKING:
    from tmfgate.gateway import Gateway

GROUP = "tmfgate.extensions"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Command:
    """A ``tmfgate`` subcommand an extension adds; it runs on the store directly, without HTTP."""

    name: str
    help: str  # one line for ``tmfgate -h``; the first sentence is also the command's description
    settings: tuple[Setting[Any], ...]  # the settings it takes as options, the core's and its own
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace, Gateway], Awaitable[int]]
    prepare: bool = False  # start the extensions first (configure, on_start), as ``serve`` does


@runtime_checkable
class Extension(Protocol):
    """What the core asks of a handler module's declaration."""

    @property
    def name(self) -> str:
        """Unique among extensions; its reactions run as the internal subscription ``tmfgate.<name>``."""

    @property
    def api(self) -> str | None:
        """The spec stem of the API whose operations it serves, if any."""

    @property
    def settings(self) -> Sequence[Setting[Any]]: ...

    @property
    def commands(self) -> Sequence[Command]: ...

    def function_for(self, operation_id: str) -> Function | None:
        """The function serving an operation; None leaves it to the generic operation of its verb."""

    def configure(self, gateway: Gateway) -> None:
        """Check the configuration at start-up, before any worker starts; raise ConfigurationError."""

    async def on_start(self, gateway: Gateway) -> None:
        """Prepare the store once it is open (seed a catalog, fill resource pools)."""

    def reactions(self, gateway: Gateway) -> Mapping[str, Reaction]:
        """What to do on events, by event type, whichever API raised them."""


@dataclass(frozen=True)
class _Reacting:
    function: Reaction
    when: Setting[bool] | None


class Handlers:
    """An :class:`Extension` declared with decorators in its handler module::

    handlers = Handlers("tmf622_product_ordering")

    @handlers.operation
    async def createProductOrder(call: Call) -> Reply: ...

    @handlers.reaction("ProductOrderCreateEvent", when=FULFILMENT)
    async def decompose(job: Job) -> None: ...
    """

    def __init__(
        self,
        name: str,
        *,
        api: str | None = None,
        settings: Sequence[Setting[Any]] = (),
        commands: Sequence[Command] = (),
    ) -> None:
        self.name = name
        self.api = api
        self.settings = tuple(settings)
        self.commands: tuple[Command, ...] = tuple(commands)
        self._functions: dict[str, Function] = {}
        self._configures: list[Callable[[Gateway], None]] = []
        self._starts: list[Callable[[Gateway], Awaitable[None]]] = []
        self._reactions: dict[str, _Reacting] = {}

    def __repr__(self) -> str:
        return f"Handlers({self.name!r})"

    # Declaring

    def operation(self, function: Function) -> Function:
        """Serve the operation whose operationId is the function's name."""
        return self.serve(function.__name__, function)

    def serve(self, operation_id: str, function: Function) -> Function:
        """Serve ``operation_id`` with ``function``."""
        if operation_id in self._functions:
            raise ConfigurationError(f"{self.name} serves {operation_id} twice.")
        self._functions[operation_id] = function
        return function

    def command(self, command: Command) -> Command:
        """Add a ``tmfgate`` subcommand."""
        self.commands = (*self.commands, command)
        return command

    def configuration(self, function: Callable[[Gateway], None]) -> Callable[[Gateway], None]:
        self._configures.append(function)
        return function

    def startup(self, function: Callable[[Gateway], Awaitable[None]]) -> Callable[[Gateway], Awaitable[None]]:
        self._starts.append(function)
        return function

    def reaction(self, *event_types: str, when: Setting[bool] | None = None) -> Callable[[Reaction], Reaction]:
        """React to these event types, while the ``when`` setting (if any) is on."""

        def register(function: Reaction) -> Reaction:
            for event_type in event_types:
                if event_type in self._reactions:
                    raise ConfigurationError(f"{self.name} reacts to {event_type} twice.")
                self._reactions[event_type] = _Reacting(function, when)
            return function

        return register

    # The Extension protocol

    def function_for(self, operation_id: str) -> Function | None:
        return self._functions.get(operation_id)

    def configure(self, gateway: Gateway) -> None:
        for function in self._configures:
            function(gateway)

    async def on_start(self, gateway: Gateway) -> None:
        for function in self._starts:
            await function(gateway)

    def reactions(self, gateway: Gateway) -> Mapping[str, Reaction]:
        return {
            event_type: reacting.function
            for event_type, reacting in self._reactions.items()
            if reacting.when is None or gateway.settings.get(reacting.when)
        }


class Registry:
    """The extensions of one gateway, with the settings and commands they declare."""

    def __init__(self, extensions: Iterable[Extension]) -> None:
        self.extensions = tuple(extensions)
        names = [extension.name for extension in self.extensions]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ConfigurationError(f"Two extensions are named {', '.join(repeated)}; uninstall one of them.")
        seen: dict[str, str] = {setting.name: "the core" for setting in CORE_SETTINGS}
        for extension in self.extensions:
            for setting in extension.settings:
                owner = seen.setdefault(setting.name, extension.name)
                if owner != extension.name:
                    raise ConfigurationError(f"{extension.name} and {owner} both declare the setting {setting.name}.")

    @classmethod
    def installed(cls, *core: Extension) -> Registry:
        """The core's own extensions and those installed as entry points of ``tmfgate.extensions``."""
        found: list[Extension] = list(core)
        for point in sorted(entry_points(group=GROUP), key=lambda point: point.name):
            try:
                extension = point.load()
            except ImportError as exc:
                raise ConfigurationError(
                    f"The extension {point.name} ({point.value}) cannot be imported: {exc}"
                ) from exc
            if not isinstance(extension, Extension):
                raise ConfigurationError(
                    f"The entry point {point.name} ({point.value}) is not a tmfgate extension; "
                    "declare one with tmfgate.extensions.Handlers."
                )
            found.append(extension)
        return cls(found)

    def for_api(self, api: str) -> Extension | None:
        return next((extension for extension in self.extensions if extension.api == api), None)

    def serving(self, apis: Iterable[str]) -> Registry:
        """The extensions at work when these APIs are served: those of an API among them, and those of none."""
        served = set(apis)
        return Registry(extension for extension in self.extensions if extension.api is None or extension.api in served)

    @property
    def settings(self) -> tuple[Setting[Any], ...]:
        """Every declared setting: the core's, then each extension's, in order."""
        declared = list(CORE_SETTINGS)
        for extension in self.extensions:
            declared += [s for s in extension.settings if s not in declared]
        return tuple(declared)

    @property
    def commands(self) -> tuple[Command, ...]:
        return tuple(command for extension in self.extensions for command in extension.commands)


__all__ = ["GROUP", "Command", "Extension", "Handlers", "Registry"]
