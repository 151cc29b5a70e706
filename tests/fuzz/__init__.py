"""API fuzzing with schemathesis over the committed spec, real tokens from the real flows (`make fuzz`)."""
