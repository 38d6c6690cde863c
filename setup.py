"""The C loops of the verifiers (harness/verifiers/_typed_loop.c, _split_loop.c), built when
ackguard is installed. They are optional: without a C compiler the install goes on and the
verifiers run their Python loops, which give the same verdicts, slower."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            f"ackguard.harness.verifiers.{name}",
            [f"harness/verifiers/{name}.c"],
            depends=["harness/verifiers/_part_of.h"],
            optional=True,
        )
        for name in ("_typed_loop", "_split_loop")
    ]
)
