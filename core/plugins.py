"""Loading connectors and calling hooks.

``build_plugin_manager`` is the one load step, in a fixed order: hook specs, the built-in
assessment engine, connectors from the ``langos.connectors`` entry-point group and from
``plugins.toml``, then ``check_pending()``. ``Hooks`` is the typed facade the rest of the
host calls; it awaits async hook results in one place.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.metadata
import inspect
import logging
import re
from types import ModuleType
from typing import Any, Iterable, Sequence

import pluggy

from . import hookspecs
from .config import Settings
from .exceptions import PluginError
from .types import (
    AccountInfo,
    AssessmentOrder,
    AssessmentTypeSummary,
    AssessmentUpdate,
    ConnectorContext,
    ConnectorInfo,
    OrderOption,
    Secret,
    SetupInstructions,
    StartedAssessment,
)

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "langos.connectors"
_MOUNT_PATH = re.compile(r"^/[A-Za-z0-9._~/-]*[A-Za-z0-9._~-]$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclasses.dataclass(frozen=True)
class LoadedConnector:
    info: ConnectorInfo
    plugin: object


async def _resolve(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


def _load_module(name: str, target: str) -> ModuleType:
    try:
        return importlib.import_module(target)
    except Exception as exc:
        raise PluginError(f"connector {name!r} failed to load from {target!r}: {exc!r}", connector=name) from exc


def _discover(settings: Settings) -> dict[str, object]:
    """Return the enabled connectors' plugin objects, by name."""
    found: dict[str, object] = {}
    for entry_point in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if not settings.connector(entry_point.name).enabled:
            logger.info("connector %s is disabled in plugins.toml; not loading it", entry_point.name)
            continue
        try:
            found[entry_point.name] = entry_point.load()
        except Exception as exc:
            raise PluginError(
                f"connector {entry_point.name!r} failed to load from entry point {entry_point.value!r}: {exc!r}",
                connector=entry_point.name,
            ) from exc

    for name, config in settings.connectors.items():
        module = config.options.get("module")
        if not config.enabled or name in found:
            continue
        if module is None:
            raise PluginError(
                f"plugins.toml enables connector {name!r}, but no installed package provides it; "
                f"install it or set connectors.{name}.module to its import path",
                connector=name,
            )
        found[name] = _load_module(name, str(module))
    return found


def _validate_info(name: str, info: Any) -> ConnectorInfo:
    if not isinstance(info, ConnectorInfo):
        raise PluginError(f"connector {name!r}: langos_connector_info returned {info!r}, expected ConnectorInfo", connector=name)
    if info.name != name:
        raise PluginError(
            f"connector {name!r} describes itself as {info.name!r}; the registered name and ConnectorInfo.name must match",
            connector=name,
        )
    if not _NAME.match(info.name):
        raise PluginError(f"connector name {info.name!r} must be lowercase letters, digits and underscores", connector=name)
    if not _MOUNT_PATH.match(info.mount_path):
        raise PluginError(
            f"connector {name!r}: mount path {info.mount_path!r} must start with '/' and not end with '/'",
            connector=name,
        )
    return info


def build_plugin_manager(settings: Settings, extra_connectors: Iterable[tuple[str, object]] = ()) -> Hooks:
    """Create the plugin manager, load every enabled connector and validate the result."""
    from .engine import ENGINE_PLUGIN_NAME, BuiltinEngine

    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(BuiltinEngine(settings.public_url), name=ENGINE_PLUGIN_NAME)

    plugins = _discover(settings)
    for name, plugin in extra_connectors:
        if settings.connector(name).enabled:
            plugins[name] = plugin

    connectors: dict[str, LoadedConnector] = {}
    mount_paths: dict[str, str] = {}
    for name, plugin in plugins.items():
        try:
            manager.register(plugin, name=f"connector:{name}")
        except (ValueError, pluggy.PluginValidationError) as exc:
            raise PluginError(f"connector {name!r} is not a valid plugin: {exc}", connector=name) from exc

        impl = getattr(plugin, "langos_connector_info", None)
        if impl is None:
            raise PluginError(f"connector {name!r} does not implement langos_connector_info", connector=name)
        info = _validate_info(name, impl())
        if info.mount_path in mount_paths:
            raise PluginError(
                f"connectors {mount_paths[info.mount_path]!r} and {name!r} both mount at {info.mount_path!r}",
                connector=name,
            )
        mount_paths[info.mount_path] = name
        connectors[name] = LoadedConnector(info=info, plugin=plugin)
        logger.info("loaded connector %s, mounted at %s", name, info.mount_path)

    try:
        manager.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"a plugin implements a hook that does not exist: {exc}") from exc
    return Hooks(manager, connectors)


class Hooks:
    """Typed access to the hooks; connector hooks are called on one connector only."""

    _REQUIRED = ("langos_connector_routes", "langos_check_credential", "langos_key_issued", "langos_push_update")

    def __init__(self, manager: pluggy.PluginManager, connectors: dict[str, LoadedConnector]) -> None:
        self.manager = manager
        self.connectors = connectors
        self._callers: dict[tuple[str, str], Any] = {}
        for name, loaded in connectors.items():
            for hook in self._REQUIRED:
                if not hasattr(loaded.plugin, hook):
                    raise PluginError(f"connector {name!r} does not implement the required hook {hook}", connector=name)

    def info(self, connector: str) -> ConnectorInfo:
        return self._loaded(connector).info

    def _loaded(self, connector: str) -> LoadedConnector:
        try:
            return self.connectors[connector]
        except KeyError:
            raise PluginError(f"connector {connector!r} is not installed or not enabled", connector=connector) from None

    def _call_one(self, target: str, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` with every other connector left out, and return the single result."""
        self._loaded(target)
        key = (target, hook)
        caller = self._callers.get(key)
        if caller is None:
            others = [loaded.plugin for name, loaded in self.connectors.items() if name != target]
            caller = self._callers[key] = self.manager.subset_hook_caller(hook, remove_plugins=others)

        results = caller(**kwargs)
        if len(results) != 1:
            raise PluginError(
                f"hook {hook} returned {len(results)} results for connector {target!r}, expected exactly one",
                connector=target,
            )
        return results[0]

    # Connector hooks

    def routes(self, connector: str, host: Any) -> Sequence[Any]:
        return list(self._call_one(connector, "langos_connector_routes", host=host))

    async def check_credential(self, connector: str, *, context: ConnectorContext, credential: Secret) -> AccountInfo:
        result = await _resolve(self._call_one(connector, "langos_check_credential", context=context, credential=credential))
        if not isinstance(result, AccountInfo):
            raise PluginError(f"connector {connector!r}: langos_check_credential returned {result!r}, expected AccountInfo")
        return result

    def key_issued(self, connector: str, *, workspace_id: str, key_prefix: str, base_url: str) -> SetupInstructions:
        return self._call_one(
            connector,
            "langos_key_issued",
            connector=connector,
            workspace_id=workspace_id,
            key_prefix=key_prefix,
            base_url=base_url,
        )

    async def push_update(
        self, connector: str, *, context: ConnectorContext, credential: Secret, update: AssessmentUpdate
    ) -> None:
        await _resolve(
            self._call_one(connector, "langos_push_update", context=context, credential=credential, update=update)
        )

    # Assessment hooks

    async def list_assessment_types(self, *, session: Any, workspace_id: str) -> list[AssessmentTypeSummary]:
        return await _resolve(self.manager.hook.langos_list_assessment_types(session=session, workspace_id=workspace_id))

    async def list_order_options(self, *, session: Any, workspace_id: str) -> list[OrderOption]:
        return await _resolve(self.manager.hook.langos_list_order_options(session=session, workspace_id=workspace_id))

    async def start_assessment(self, *, session: Any, order: AssessmentOrder) -> StartedAssessment:
        return await _resolve(self.manager.hook.langos_start_assessment(session=session, order=order))

    async def cancel_assessment(self, *, session: Any, workspace_id: str, assessment_id: str) -> str:
        return await _resolve(
            self.manager.hook.langos_cancel_assessment(
                session=session, workspace_id=workspace_id, assessment_id=assessment_id
            )
        )
