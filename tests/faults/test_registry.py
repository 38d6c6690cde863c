"""The fault registry: each kind's parameters are their own pydantic model, validated before
anything starts; the builder receives the validated model. Defect parameters have one schema,
shared by the scenario loader and the consultation service."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ackguard.fakes.consultations.defects import DEFECTS, DefectSpecError, parse_entries
from ackguard.fakes.consultations.defects.params import DEFECT_PARAMS
from ackguard.harness.faults.base import FaultConfigError, FaultParams
from ackguard.harness.faults.registry import KINDS, build_fault, parse_params
from ackguard.harness.faults.toxic import TOXIC_ATTRIBUTES, ToxicParams


class NothingStarted:
    """A run with no component at all: building a fault must not reach for one."""

    def component(self, name: str) -> Any:
        raise KeyError(name)


def test_every_kind_has_a_strict_parameter_model() -> None:
    for name, kind in KINDS.items():
        assert kind.name == name
        assert issubclass(kind.params, FaultParams)
        with pytest.raises(ValidationError) as raised:
            kind.params.model_validate({"no_such_parameter": 1})
        first = raised.value.errors()[0]
        assert first["loc"] == ("no_such_parameter",)
        assert first["msg"].startswith("unknown parameter (allowed: ")


def test_the_builder_receives_the_validated_model() -> None:
    params = parse_params("toxic", {"proxy": "service", "type": "latency",
                                    "attributes": {"latency": 250}})  # fmt: skip
    assert isinstance(params, ToxicParams) and params.stream == "downstream"
    fault = build_fault("toxic", NothingStarted(), params)
    assert "latency=250 ms" in fault.description
    same = build_fault("toxic", NothingStarted(), {"proxy": "service", "type": "latency",
                                                   "attributes": {"latency": 250}})  # fmt: skip
    assert same.description == fault.description


@pytest.mark.parametrize(
    ("attribute", "table"),
    [(a, t) for t, attrs in TOXIC_ATTRIBUTES.items() for a in attrs],
)
def test_every_toxic_attribute_has_an_upper_bound_in_its_message(
    attribute: str, table: str
) -> None:
    bound = TOXIC_ATTRIBUTES[table][attribute].maximum
    assert bound < 2**63
    raw = {"proxy": "service", "type": table, "attributes": {attribute: bound + 1}}
    with pytest.raises(FaultConfigError) as raised:
        KINDS["toxic"].parse(raw)
    assert raised.value.field == f"attributes.{attribute}"
    assert f"at most {bound:,}" in raised.value.message


def test_defect_parameters_have_one_schema_for_the_scenario_and_the_service() -> None:
    assert set(DEFECT_PARAMS) == set(DEFECTS)
    for name, kind in DEFECTS.items():
        assert type(kind.parse({}, "p")) is DEFECT_PARAMS[name]
    bad = {"defect": "silent_truncation", "params": {"max_chars": -1}}
    with pytest.raises(FaultConfigError) as raised:
        KINDS["defect"].parse(bad)
    assert raised.value.field == "params.max_chars"
    with pytest.raises(DefectSpecError) as refused:
        parse_entries([{"name": "silent_truncation", "params": {"max_chars": -1}}])
    assert refused.value.field == "defects[0].params.max_chars"
    assert refused.value.message == raised.value.message == "must be between 0 and 20000, got -1"
