"""Adapters named in a scenario: what is refused before the load (with the file, the class or
method and what was expected), what is refused at run time, and how a minimal adapter without
the optional abilities is driven."""

from __future__ import annotations

import itertools
import textwrap
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ackguard.harness.workload import (
    AdapterError,
    HttpTarget,
    SupportsBulkRegistration,
    SupportsDayListing,
    SupportsRegistration,
    Target,
    TargetContext,
    Workload,
    WorkloadConfig,
    load_adapter,
    one_at_a_time,
)
from ackguard.harness.workload.directory import PatientEntry, PractitionerEntry

STARTED = datetime(2026, 1, 5, 8, 10, tzinfo=ZoneInfo("Europe/Paris"))
CONTEXT = TargetContext("http://127.0.0.1:9", 1.0)
DOCTOR = PractitionerEntry("10000000008", "10000000008", "Dr A", "médecine générale")
PATIENT = PatientEntry("10000000008-1", "B", "1980-01-01", "180017500100165")

MINIMAL = """
from ackguard.harness.workload import TargetAnswer

class Minimal:
    def __init__(self, context, *, colour="blue"):
        self.colour = colour
        self.notes = {}

    def create(self, practitioner, patient, key, started_at, fields):
        self.notes[key] = {"id": key, "idempotency_key": key,
                           "practitioner_id": practitioner.id, "patient_id": patient.id, **fields}
        return TargetAnswer("ok", 201, record=self.notes[key])

    def update(self, record_ref, fields):
        return TargetAnswer("ok", 200)

    def read(self, record_ref):
        return TargetAnswer("ok", 404, found=False)

    def export(self):
        yield from self.notes.values()
"""


def adapter_file(folder: Path, body: str, name: str = "adapter.py") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def refused(spec: str, folder: Path, **options: object) -> str:
    with pytest.raises(AdapterError) as caught:
        load_adapter(spec, base_dir=folder, options=options)
    return str(caught.value)


def test_a_module_that_cannot_be_imported_is_named_with_its_import_error(tmp_path: Path) -> None:
    message = refused("no_such_package.adapters:Cabinet", tmp_path)
    assert "no_such_package.adapters: cannot import the adapter" in message
    assert "ModuleNotFoundError" in message

    adapter_file(tmp_path, "import not_installed_anywhere\n", "broken.py")
    message = refused("broken.py:Cabinet", tmp_path)
    assert f"{tmp_path / 'broken.py'}: cannot import the adapter" in message
    assert "No module named 'not_installed_anywhere'" in message

    message = refused("adapters/missing.py:Cabinet", tmp_path)
    assert str(tmp_path / "adapters" / "missing.py") in message and "no such file" in message


def test_a_spec_without_a_class_is_refused_with_the_expected_form(tmp_path: Path) -> None:
    message = refused("adapter.py", tmp_path)
    assert "'package.module:Class' or 'path/to/file.py:Class'" in message


def test_a_missing_class_names_the_file_and_the_classes_found(tmp_path: Path) -> None:
    adapter_file(tmp_path, MINIMAL)
    message = refused("adapter.py:CabinetTarget", tmp_path)
    assert f"{tmp_path / 'adapter.py'}: CabinetTarget: no such class" in message
    assert "(classes found: Minimal)" in message


def test_missing_methods_are_named_with_how_ackguard_calls_them(tmp_path: Path) -> None:
    adapter_file(
        tmp_path,
        """
        class Partial:
            def __init__(self, context): ...
            def create(self, practitioner, patient, key, started_at, fields): ...
            def update(self, record_ref, fields): ...
        """,
    )
    message = refused("adapter.py:Partial", tmp_path)
    assert f"{tmp_path / 'adapter.py'}:Partial: missing the methods read(record_ref), export()" in (
        message
    )
    assert "every target needs create, update, read, export" in message


def test_a_method_ackguard_cannot_call_is_refused(tmp_path: Path) -> None:
    adapter_file(
        tmp_path,
        MINIMAL.replace("def update(self, record_ref, fields):", "def update(self, ref):"),
    )
    message = refused("adapter.py:Minimal", tmp_path)
    assert "Minimal: update(self, ref) cannot be called as update(record_ref, fields)" in message


def test_half_an_ability_is_refused(tmp_path: Path) -> None:
    body = MINIMAL + "\n    def register_practitioner(self, practitioner): ...\n"
    adapter_file(tmp_path, body)
    message = refused("adapter.py:Minimal", tmp_path)
    assert "has register_practitioner but not register_patient(patient)" in message
    assert "the registration ability needs register_practitioner and register_patient" in message


def test_half_the_bulk_ability_or_a_bulk_method_ackguard_cannot_call_is_refused(
    tmp_path: Path,
) -> None:
    adapter_file(tmp_path, MINIMAL + "\n    def register_patients(self, patients): ...\n")
    message = refused("adapter.py:Minimal", tmp_path)
    assert "has register_patients but not register_practitioners(practitioners)" in message
    assert "the bulk registration ability needs register_practitioners and register_patients" in (
        message
    )
    bulk = "\n    def register_practitioners(self): ...\n    def register_patients(self, p): ...\n"
    adapter_file(tmp_path, MINIMAL + bulk, "uncallable.py")
    message = refused("uncallable.py:Minimal", tmp_path)
    assert (
        "register_practitioners(self) cannot be called as register_practitioners(practitioners)"
        in (message)
    )


ABILITIES = {
    "registration": "\n    def register_practitioner(self, practitioner): ...\n"
    "    def register_patient(self, patient): ...\n",
    "bulk registration": "\n    def register_practitioners(self, practitioners): ...\n"
    "    def register_patients(self, patients): ...\n",
    "day listing": "\n    def list_day(self, practitioner, day): ...\n",
}
PROTOCOLS = {
    "registration": SupportsRegistration,
    "bulk registration": SupportsBulkRegistration,
    "day listing": SupportsDayListing,
}


@pytest.mark.parametrize(
    "abilities",
    [(), *[(a,) for a in ABILITIES], *itertools.combinations(ABILITIES, 2), tuple(ABILITIES)],
)
def test_the_checked_adapter_has_exactly_the_abilities_of_the_class(
    tmp_path: Path, abilities: tuple[str, ...]
) -> None:
    adapter_file(tmp_path, MINIMAL + "".join(ABILITIES[a] for a in abilities))
    factory = load_adapter("adapter.py:Minimal", base_dir=tmp_path)
    assert factory.abilities == abilities
    target = factory(CONTEXT)
    assert isinstance(target, Target)
    for ability, protocol in PROTOCOLS.items():
        assert isinstance(target, protocol) == (ability in abilities), ability


def test_one_at_a_time_hides_bulk_registration_and_keeps_the_rest() -> None:
    built = HttpTarget(CONTEXT)
    assert isinstance(built, SupportsBulkRegistration)
    single = one_at_a_time(built)
    assert single.inner is built
    assert isinstance(single, Target) and isinstance(single, SupportsRegistration)
    assert isinstance(single, SupportsDayListing)
    assert not isinstance(single, SupportsBulkRegistration)


def test_one_at_a_time_lists_a_day_only_when_the_target_can(tmp_path: Path) -> None:
    adapter_file(tmp_path, MINIMAL + ABILITIES["registration"] + ABILITIES["bulk registration"])
    single = one_at_a_time(load_adapter("adapter.py:Minimal", base_dir=tmp_path)(CONTEXT))
    assert isinstance(single, SupportsRegistration)
    assert not isinstance(single, SupportsDayListing | SupportsBulkRegistration)
    assert single.create(DOCTOR, PATIENT, "k-1", STARTED, {}).outcome == "ok"


def test_one_at_a_time_refuses_a_target_that_cannot_register(tmp_path: Path) -> None:
    adapter_file(tmp_path, MINIMAL)
    target = load_adapter("adapter.py:Minimal", base_dir=tmp_path)(CONTEXT)
    with pytest.raises(TypeError, match="CheckedTarget cannot register one at a time"):
        one_at_a_time(target)


def test_options_the_constructor_does_not_take_are_refused(tmp_path: Path) -> None:
    adapter_file(tmp_path, MINIMAL)
    message = refused("adapter.py:Minimal", tmp_path, color="red")
    assert "Minimal: __init__(context, *, colour='blue')" in message
    assert "Minimal(context, **options) with the scenario's options (color)" in message
    assert "unexpected keyword argument 'color'" in message
    built = load_adapter("adapter.py:Minimal", base_dir=tmp_path, options={"colour": "red"})
    assert built(CONTEXT).inner.colour == "red"  # type: ignore[attr-defined]


def test_a_module_path_on_sys_path_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "acme_adapters"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    adapter_file(package, MINIMAL, "notes.py")
    monkeypatch.syspath_prepend(str(tmp_path))
    factory = load_adapter("acme_adapters.notes:Minimal", base_dir=Path("/nonexistent"))
    assert factory.label == "acme_adapters.notes:Minimal"
    created = factory(CONTEXT).create(DOCTOR, PATIENT, "k-1", STARTED, {"visit_reason": "Toux"})
    assert created.outcome == "ok" and created.record is not None


def test_an_answer_that_is_not_a_target_answer_is_a_run_time_error(tmp_path: Path) -> None:
    adapter_file(
        tmp_path,
        MINIMAL.replace(
            'return TargetAnswer("ok", 201, record=self.notes[key])', "return self.notes[key]"
        ),
    )
    factory = load_adapter("adapter.py:Minimal", base_dir=tmp_path)
    workload = Workload(WorkloadConfig(seed=1, practitioners=1), None, factory)
    target = factory(CONTEXT)
    with pytest.raises(AdapterError) as caught:
        target.create(DOCTOR, PATIENT, "k-1", STARTED, {"visit_reason": "Toux"})
    message = str(caught.value)
    assert f"{tmp_path / 'adapter.py'}:Minimal.create returned dict" in message
    assert "expected a TargetAnswer (from harness.workload)" in message
    assert workload.target_error is caught.value  # the run ends with the first one


def test_an_acknowledged_create_without_its_record_is_refused(tmp_path: Path) -> None:
    adapter_file(
        tmp_path,
        MINIMAL.replace(
            'return TargetAnswer("ok", 201, record=self.notes[key])',
            'return TargetAnswer("ok", 201)',
        ),
    )
    target = load_adapter("adapter.py:Minimal", base_dir=tmp_path)(CONTEXT)
    with pytest.raises(AdapterError, match=r"Minimal\.create answered ok with record=None"):
        target.create(DOCTOR, PATIENT, "k-1", STARTED, {})


@pytest.mark.parametrize(
    ("exported", "expected"),
    [
        ("[['a', 'b']]", "Minimal.export yielded list as item 0; expected a mapping with id"),
        (
            "[{'id': '1', 'practitioner_id': 'p', 'patient_id': 'q'}]",
            "Minimal.export yielded item 0 without idempotency_key (keys: id, practitioner_id, "
            "patient_id)",
        ),
        (
            "[{'id': '1', 'idempotency_key': 'k', 'practitioner_id': 'p', 'patient_id': 'q', "
            "'conclusion': 3}]",
            "Minimal.export yielded item 0 with conclusion = int; expected text or None",
        ),
        ("{'id': '1'}", "Minimal.export returned dict; expected an iterable of records"),
    ],
)
def test_an_export_of_the_wrong_shape_names_the_item(
    tmp_path: Path, exported: str, expected: str
) -> None:
    body = MINIMAL.replace("yield from self.notes.values()", f"return {exported}")
    adapter_file(tmp_path, body)
    factory = load_adapter("adapter.py:Minimal", base_dir=tmp_path)
    workload = Workload(WorkloadConfig(seed=1, practitioners=1), None, factory)
    with pytest.raises(AdapterError) as caught:
        workload.export("http://127.0.0.1:9")
    assert expected in str(caught.value)


def test_a_minimal_adapter_is_driven_without_registration_or_listing(tmp_path: Path) -> None:
    adapter_file(tmp_path, MINIMAL)
    factory = load_adapter("adapter.py:Minimal", base_dir=tmp_path)
    target = factory(CONTEXT)
    assert isinstance(target, Target)
    assert not isinstance(target, SupportsRegistration | SupportsDayListing)
    assert isinstance(HttpTarget(CONTEXT), SupportsRegistration)
    assert isinstance(HttpTarget(CONTEXT), SupportsDayListing)
    config = WorkloadConfig(seed=4, practitioners=3, patients_per_practitioner=2)
    workload = Workload(config, None, factory)
    directory = workload.setup("http://127.0.0.1:9", timeout_s=1)  # nobody listens: no calls
    assert [p.id for p in directory.practitioners] == [p.rpps for p in workload.practice]
    assert [p.id for p in directory.patients[:2]] == [
        f"{workload.practice[0].rpps}-1",
        f"{workload.practice[0].rpps}-2",
    ]
    assert len({p.id for p in directory.patients}) == 6
