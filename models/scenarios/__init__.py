"""Scenario compositions: builders that put the kernel paths of models/ together into the threads,
initial state and invariants of one scenario, with the knobs its variants set. Named by
specs/scenarios/*.toml (`model = "pteverify.models.scenarios.<module>:<builder>"`)."""
