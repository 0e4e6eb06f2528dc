"""The conformance kit: checks a plugin's own test suite calls, as scikit-learn's
``check_estimator`` does for estimators.

::

    from styx.testing import check_descriptor, check_loss, check_method

    def test_my_descriptor_follows_the_contract():
        check_descriptor("squeezenet")          # raises PluginCheckError on any failure

    def test_my_method_follows_the_contract():
        check_method("colour-transfer", run_options={"steps": 2})

Each function runs every check it has, collects the failures and then raises one
:class:`PluginCheckError` listing them all (``raise_on_failure=False`` returns the
:class:`CheckReport` instead). Descriptors are built with random weights and images are
small, so a check takes seconds and never downloads anything. ``styx plugins --check NAME``
runs the same checks from the command line. What each function checks is in its
docstring and in ``docs/plugins.md``.
"""

from __future__ import annotations

from styx.testing.descriptors import check_descriptor
from styx.testing.losses import check_loss
from styx.testing.methods import check_method
from styx.testing.plugin import check_plugin
from styx.testing.report import CheckReport, CheckResult, PluginCheckError

__all__ = ["CheckReport", "CheckResult", "PluginCheckError", "check_descriptor",
           "check_loss", "check_method", "check_plugin"]
