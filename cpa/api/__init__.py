"""The HTTP layer: Litestar controllers and wire Structs, one module per resource; wired in
``cpa.app``. Domains never import it."""
