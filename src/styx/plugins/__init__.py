"""The built-in plugins. Each module is an entry point of styx-nst's ``styx`` group,
registered exactly like a third-party plugin; none of them imports torch at import time."""
