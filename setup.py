"""The C loops of the verifiers (harness/verifiers/_typed_loop.c, _split_loop.c), built when
ackguard is installed. They are optional: without a C compiler the install goes on and the
verifiers run their Python loops, which give the same verdicts, slower."""

from setuptools import Extension, setup

HERE = "harness/verifiers"
SHARED = [f"{HERE}/_structs.h", f"{HERE}/_part_of.h"]

setup(
    ext_modules=[
        Extension(
            "ackguard.harness.verifiers._typed_loop",
            [f"{HERE}/_typed_loop.c", f"{HERE}/_typed_steps.c"],
            depends=[*SHARED, f"{HERE}/_typed_loop.h"],
            optional=True,
        ),
        Extension(
            "ackguard.harness.verifiers._split_loop",
            [f"{HERE}/_split_loop.c"],
            depends=SHARED,
            optional=True,
        ),
    ]
)
