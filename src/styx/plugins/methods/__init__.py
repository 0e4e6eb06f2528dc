"""The built-in style transfer methods, each a package registered as its own entry point."""
