"""The contract and the plugin host: what a plugin implements and how styx finds it.

No torch here (a test and an import-linter contract hold it so): specs, hooks, registries,
configs and their checks, the run contract. The machinery lives in the packages above it
(see docs/architecture.md).
"""

__version__ = "0.3.0"
