"""Targets named in a scenario: ``system.target.adapter`` as ``package.module:Class`` or
``path/to/file.py:Class`` (a relative path is relative to the scenario file's folder).

The contract: ackguard builds the class as ``Class(context, **options)``, with a
:class:`~harness.workload.TargetContext` and the scenario's ``system.target.options`` as keyword
arguments, once for setup and export and once per Locust user. The class has the four methods of
:class:`~harness.workload.Target` and, if it likes, the optional abilities
(:class:`~harness.workload.SupportsRegistration`,
:class:`~harness.workload.SupportsBulkRegistration`, :class:`~harness.workload.SupportsDayListing`).
The checked wrapper has exactly the abilities of the class it wraps, so the workload's setup
registers in bulk through an adapter that can.

What can be checked before the load is checked by :func:`load_adapter` (the import, the class,
its methods and how they are called, the options); what an adapter answers is checked on every
call: a method that answers something other than a :class:`~harness.workload.TargetAnswer`, an
export item without the fields the final read needs, or a bulk registration without one id of its
own for each item, is an :class:`AdapterError` naming the method (and the item) and the shape
expected. The first one is kept in :attr:`AdapterFactory.violation` so the
run can end with it even when it happened inside a Locust user.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any, cast

from ackguard.harness.workload.directory import PatientEntry, PractitionerEntry
from ackguard.harness.workload.model import PatientProfile, PractitionerProfile
from ackguard.harness.workload.target import (
    ConsultationRecord,
    ObservationFields,
    Target,
    TargetAnswer,
    TargetContext,
)

__all__ = ["AdapterError", "AdapterFactory", "load_adapter"]

# How ackguard calls each method (positional arguments after self), for the load-time check.
_CALLS: dict[str, tuple[str, ...]] = {
    "create": ("practitioner", "patient", "key", "started_at", "fields"),
    "update": ("record_ref", "fields"),
    "read": ("record_ref",),
    "export": (),
    "register_practitioner": ("practitioner",),
    "register_patient": ("patient",),
    "register_practitioners": ("practitioners",),
    "register_patients": ("patients",),
    "list_day": ("practitioner", "day"),
}
REQUIRED_METHODS = ("create", "update", "read", "export")
_ABILITIES = {
    "registration": ("register_practitioner", "register_patient"),
    "bulk registration": ("register_practitioners", "register_patients"),
    "day listing": ("list_day",),
}
EXPORT_KEYS = ("id", "idempotency_key", "practitioner_id", "patient_id")
ANSWER_SHAPE = "a TargetAnswer (from harness.workload) with outcome ok, fail or info"


class AdapterError(Exception):
    """An adapter that cannot be loaded, or that answered outside the Target contract."""


def _signature(call: object) -> inspect.Signature | None:
    try:
        return inspect.signature(call)  # type: ignore[arg-type]
    except (TypeError, ValueError):  # a builtin without a signature: nothing to check
        return None


class AdapterFactory:
    """Builds the named class as ``Class(context, **options)`` and wraps each instance so its
    answers are checked. Callable like any :data:`~harness.workload.TargetFactory`."""

    def __init__(self, label: str, cls: type[Any], options: Mapping[str, Any]) -> None:
        self.label = label
        self.cls = cls
        self.options = dict(options)
        self.violation: AdapterError | None = None
        self.abilities = tuple(
            name
            for name, methods in _ABILITIES.items()
            if all(callable(getattr(cls, m, None)) for m in methods)
        )

    def __call__(self, context: TargetContext) -> Target:
        try:
            inner = self.cls(context, **self.options)
        except Exception as exc:
            raise self.broken(
                f"{self.label}: {self.cls.__name__}(context, **options) raised "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return _checked_class(self.abilities)(inner, self)

    def broken(self, message: str) -> AdapterError:
        """An :class:`AdapterError`, remembered when it is the first one."""
        error = AdapterError(message)
        if self.violation is None:
            self.violation = error
        return error


def load_adapter(
    spec: str, *, base_dir: Path, options: Mapping[str, Any] | None = None
) -> AdapterFactory:
    """Import the adapter named by ``spec`` and check it; raises :class:`AdapterError`."""
    module_part, colon, class_name = spec.rpartition(":")
    if not colon or not module_part or not class_name.isidentifier():
        raise AdapterError(
            f"adapter {spec!r}: expected 'package.module:Class' or 'path/to/file.py:Class'"
        )
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        module, where = _import_file(base_dir / module_part, module_part)
    else:
        module, where = _import_module(module_part), module_part
    cls = getattr(module, class_name, None)
    if not inspect.isclass(cls):
        found = sorted(
            n
            for n, v in vars(module).items()
            if inspect.isclass(v) and v.__module__ == module.__name__ and n[0] != "_"
        )
        problem = "is not a class" if cls is not None else "no such class"
        raise AdapterError(
            f"{where}: {class_name}: {problem} (classes found: {', '.join(found) or 'none'})"
        )
    label = f"{where}:{class_name}"
    _check_methods(label, cls)
    _check_constructor(label, cls, options or {})
    return AdapterFactory(label, cls, options or {})


def _import_file(path: Path, written: str) -> tuple[Any, str]:
    where = str(path)
    if not path.is_file():
        raise AdapterError(f"{where}: cannot import the adapter: no such file ({written!r})")
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
    name = f"ackguard_adapter_{path.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name], where
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise AdapterError(f"{where}: cannot import the adapter: not a Python file")
    module = importlib.util.module_from_spec(loader_spec)
    folder = str(path.resolve().parent)
    if folder not in sys.path:  # as Locust does for a locustfile: its neighbours can be imported
        sys.path.insert(0, folder)
    sys.modules[name] = module
    try:
        loader_spec.loader.exec_module(module)
    except BaseException as exc:
        del sys.modules[name]
        raise AdapterError(
            f"{where}: cannot import the adapter: {type(exc).__name__}: {exc}"
        ) from exc
    return module, where


def _import_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise AdapterError(
            f"{name}: cannot import the adapter: {type(exc).__name__}: {exc}"
        ) from exc


def _call_text(method: str) -> str:
    return f"{method}({', '.join(_CALLS[method])})"


def _check_methods(label: str, cls: type[Any]) -> None:
    missing = [m for m in REQUIRED_METHODS if not callable(getattr(cls, m, None))]
    if missing:
        calls = ", ".join(_call_text(m) for m in missing)
        raise AdapterError(
            f"{label}: missing the method{'s' if len(missing) > 1 else ''} {calls}; "
            f"every target needs {', '.join(REQUIRED_METHODS)}"
        )
    for ability, methods in _ABILITIES.items():
        present = [m for m in methods if callable(getattr(cls, m, None))]
        if present and len(present) < len(methods):
            absent = [_call_text(m) for m in methods if m not in present]
            raise AdapterError(
                f"{label}: has {', '.join(present)} but not {', '.join(absent)}; "
                f"the {ability} ability needs {' and '.join(methods)}"
            )
    for method, arguments in _CALLS.items():
        function = getattr(cls, method, None)
        signature = _signature(function) if callable(function) else None
        if signature is None:
            continue
        try:
            signature.bind(None, *arguments)  # None stands for self
        except TypeError as exc:
            raise AdapterError(
                f"{label}: {method}{signature} cannot be called as {_call_text(method)} ({exc})"
            ) from exc


def _check_constructor(label: str, cls: type[Any], options: Mapping[str, Any]) -> None:
    signature = _signature(cls)
    if signature is None:
        return
    try:
        signature.bind(None, **options)  # None stands for the TargetContext
    except TypeError as exc:
        given = ", ".join(options) or "none"
        raise AdapterError(
            f"{label}: __init__{signature} cannot be called as "
            f"{cls.__name__}(context, **options) with the scenario's options ({given}): {exc}"
        ) from exc


class CheckedTarget:
    """An adapter instance whose every answer is checked against the Target contract."""

    def __init__(self, inner: Any, factory: AdapterFactory) -> None:
        self.inner = inner
        self._factory = factory

    def _answer(self, method: str, answer: object) -> TargetAnswer:
        label = f"{self._factory.label}.{method}"
        if not isinstance(answer, TargetAnswer):
            raise self._factory.broken(
                f"{label} returned {type(answer).__name__}; expected {ANSWER_SHAPE}"
            )
        if answer.outcome not in ("ok", "fail", "info"):
            raise self._factory.broken(
                f"{label} answered outcome {answer.outcome!r}; expected {ANSWER_SHAPE}"
            )
        return answer

    def _with_record(self, method: str, answer: object) -> TargetAnswer:
        """An acknowledged answer must carry the record (with its id) it acknowledges."""
        checked = self._answer(method, answer)
        record = checked.record
        unreadable = not isinstance(record, Mapping) or record.get("id") in (None, "")
        if checked.outcome == "ok" and checked.found and unreadable:
            raise self._factory.broken(
                f"{self._factory.label}.{method} answered ok with record={record!r}; "
                "expected TargetAnswer('ok', record={'id': ..., ...}) with the record's "
                "id and fields" + (", or found=False" if method == "read" else "")
            )
        return checked

    def create(
        self,
        practitioner: PractitionerEntry,
        patient: PatientEntry,
        key: str,
        started_at: datetime,
        fields: ObservationFields,
    ) -> TargetAnswer:
        answer = self.inner.create(practitioner, patient, key, started_at, fields)
        return self._with_record("create", answer)

    def update(self, record_ref: str, fields: ObservationFields) -> TargetAnswer:
        return self._answer("update", self.inner.update(record_ref, fields))

    def read(self, record_ref: str) -> TargetAnswer:
        return self._with_record("read", self.inner.read(record_ref))

    def export(self) -> Iterator[ConsultationRecord]:
        label = f"{self._factory.label}.export"
        items = self.inner.export()
        if isinstance(items, Mapping | str | bytes) or not hasattr(items, "__iter__"):
            raise self._factory.broken(
                f"{label} returned {type(items).__name__}; expected an iterable of records "
                f"(mappings with {', '.join(EXPORT_KEYS)} and the observation fields)"
            )
        for position, item in enumerate(items):
            yield self._export_item(label, position, item)

    def _export_item(self, label: str, position: int, item: object) -> ConsultationRecord:
        shape = f"a mapping with {', '.join(EXPORT_KEYS)} and the observation fields"
        if not isinstance(item, Mapping):
            raise self._factory.broken(
                f"{label} yielded {type(item).__name__} as item {position}; expected {shape}"
            )
        absent = [k for k in EXPORT_KEYS if item.get(k) in (None, "")]
        if absent:
            raise self._factory.broken(
                f"{label} yielded item {position} without {', '.join(absent)} "
                f"(keys: {', '.join(map(str, item)) or 'none'}); expected {shape}"
            )
        for name in ("visit_reason", "exam_report", "conclusion", "prescription"):
            value = item.get(name)
            if value is not None and not isinstance(value, str):
                raise self._factory.broken(
                    f"{label} yielded item {position} with {name} = {type(value).__name__}; "
                    "expected text or None (absent means empty)"
                )
        return dict(item)  # type: ignore[return-value]


class _RegistrationChecks(CheckedTarget):
    def _registered(self, method: str, answer: object) -> TargetAnswer:
        checked = self._answer(method, answer)
        if checked.outcome == "ok" and not checked.entity_id:
            raise self._factory.broken(
                f"{self._factory.label}.{method} answered ok without entity_id; expected "
                "TargetAnswer('ok', entity_id=<the id the system gave>)"
            )
        return checked

    def register_practitioner(self, practitioner: PractitionerProfile) -> TargetAnswer:
        answer = self.inner.register_practitioner(practitioner)
        return self._registered("register_practitioner", answer)

    def register_patient(self, patient: PatientProfile) -> TargetAnswer:
        return self._registered("register_patient", self.inner.register_patient(patient))


class _ListingChecks(CheckedTarget):
    def list_day(self, practitioner: PractitionerEntry, day: date) -> TargetAnswer:
        checked = self._answer("list_day", self.inner.list_day(practitioner, day))
        if not all(isinstance(r, Mapping) for r in checked.records):
            raise self._factory.broken(
                f"{self._factory.label}.list_day answered records that are not all mappings; "
                "expected TargetAnswer('ok', records=(record, ...), complete=...)"
            )
        return checked


class _BulkRegistrationChecks(CheckedTarget):
    def _registered_many(
        self, method: str, kind: str, items: Sequence[object], answer: object
    ) -> TargetAnswer:
        """An ``ok`` answer must give one id of its own to each item, in the items' order."""
        checked = self._answer(method, answer)
        if checked.outcome != "ok":
            return checked
        label = f"{self._factory.label}.{method}"
        shape = f"expected TargetAnswer('ok', entity_ids=(<the id of each of the {kind}>, ...))"
        ids = checked.entity_ids
        if isinstance(ids, str | bytes) or not isinstance(ids, Sequence):
            raise self._factory.broken(
                f"{label} answered ok with entity_ids of type {type(ids).__name__}; {shape}"
            )
        if len(ids) != len(items):
            raise self._factory.broken(
                f"{label} answered ok with {len(ids)} entity_ids for {len(items)} {kind}; "
                f"{shape}, in the order they were given"
            )
        first: dict[str, int] = {}
        for position, (entity_id, item) in enumerate(zip(ids, items, strict=True)):
            if not isinstance(entity_id, str) or not entity_id:
                also = ""
            elif entity_id in first:
                also = f", the id of item {first[entity_id]} too"
            else:
                first[entity_id] = position
                continue
            raise self._factory.broken(
                f"{label} answered ok with entity_ids[{position}] = {entity_id!r} for item "
                f"{position} ({_who(item)}){also}; {shape}, each a non-empty text of its own"
            )
        return checked

    def register_practitioners(self, practitioners: Sequence[PractitionerProfile]) -> TargetAnswer:
        answer = self.inner.register_practitioners(practitioners)
        return self._registered_many(
            "register_practitioners", "practitioners", practitioners, answer
        )

    def register_patients(self, patients: Sequence[PatientProfile]) -> TargetAnswer:
        answer = self.inner.register_patients(patients)
        return self._registered_many("register_patients", "patients", patients, answer)


def _who(item: object) -> str:
    """A registered person in words, for an error."""
    if isinstance(item, PractitionerProfile):
        return f"practitioner {item.name}, RPPS {item.rpps}"
    if isinstance(item, PatientProfile):
        return f"patient {item.name}, NIR {item.national_id}"
    return repr(item)


_CHECKS: dict[str, type[CheckedTarget]] = {
    "registration": _RegistrationChecks,
    "bulk registration": _BulkRegistrationChecks,
    "day listing": _ListingChecks,
}


@cache
def _checked_class(abilities: tuple[str, ...]) -> type[CheckedTarget]:
    """The checked wrapper with exactly these abilities (a target's abilities are seen by what
    methods it has: a wrapper must not claim one the adapter lacks)."""
    if not abilities:
        return CheckedTarget
    bases = tuple(_CHECKS[ability] for ability in abilities)
    name = "Checked" + "".join(ability.title().replace(" ", "") for ability in abilities)
    return cast(type[CheckedTarget], type(name, bases, {}))
