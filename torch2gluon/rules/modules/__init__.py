"""The module rules: `nn.Module` subclasses, their internals, containers and parameters (T2G210-T2G215)."""
