"""API fuzzing: schemathesis over the committed spec with tokens from the real flows."""
