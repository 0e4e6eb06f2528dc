"""The contract and the shared machinery of styx. It imports no method, descriptor or exporter."""
