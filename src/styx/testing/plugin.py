"""Checking everything one plugin registered (:func:`check_plugin`), and what ``styx
plugins --check NAME`` runs."""

from __future__ import annotations

from styx.core.errors import StyxError
from styx.testing.report import CheckReport


def check_plugin(name: str) -> list[CheckReport]:
    """Reports of the checks on every spec plugin ``name`` registered, or, when ``name``
    is no plugin's, on the spec of that name (a descriptor, loss or method; qualified
    names too). Never raises for a failed check: see each report's ``ok``."""
    from styx.core.plugins import get_plugins
    from styx.core.registry import normalize_name

    plugins = get_plugins()
    found = [info for info in plugins.info if normalize_name(info.name) == normalize_name(name)]
    if found:
        targets = [(kind, spec_name) for kind, names in found[0].registered.items()
                   for spec_name in names]
        if not targets:
            raise StyxError(f"plugin {found[0].name!r} registers nothing to check",
                            "its styx_register hook returned no specs")
    else:
        targets = [(kind, plugins.get(kind, name).name) for kind in CHECKS
                   if name in plugins.registry(kind)]
        if not targets:
            known = sorted({info.name for info in plugins.info} |
                           {s.name for kind in CHECKS for s in plugins.registry(kind)})
            from styx.core.suggest import did_you_mean

            raise StyxError(f"no plugin, descriptor, loss or method is called {name!r}",
                            did_you_mean(name, known) or "see 'styx plugins'")
    return [_check(kind, spec_name) for kind, spec_name in targets]


def _check(kind: str, name: str) -> CheckReport:
    from styx.testing.descriptors import check_descriptor
    from styx.testing.losses import check_loss
    from styx.testing.methods import check_method

    checks = {"descriptors": check_descriptor, "losses": check_loss, "methods": check_method}
    return checks[kind](name, raise_on_failure=False) if kind in checks else _check_exporter(name)


def _check_exporter(name: str) -> CheckReport:
    from styx.core.plugins import exporters
    from styx.testing.imports import check_light, module_of, plugin_module

    spec = exporters().get(name)
    report = CheckReport("exporter", spec.name)
    check_light(report, [plugin_module(spec.plugin), module_of(spec.config)])
    with report.check("export function and options load"):
        from styx.core.config import options_of
        from styx.core.specs import load_object

        assert callable(spec.load()), "export is not callable"
        if spec.config is not None:
            options_of(load_object(spec.config))
    return report


#: The kinds the kit has checks for, as registry attributes.
CHECKS = ("descriptors", "losses", "methods", "exporters")
