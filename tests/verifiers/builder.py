"""Hand-built histories and final reads for the verifier tests.

Every op gets an explicit time (1 ms apart unless given), so tests can state concurrency
exactly: which write began before which completed.
"""

from __future__ import annotations

from collections.abc import Mapping

from ackguard.harness.final_read import FinalRead, FinalRecord
from ackguard.harness.history import FieldDigest, Op, OpType, digest_fields

MS = 1_000_000
FIELDS = {
    "visit_reason": "cough",
    "exam_report": "clear lungs",
    "conclusion": "cold",
    "prescription": None,
}


class History:
    """Appends ops with increasing times; ``at`` pins a time (ns)."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self.time = 0

    def op(
        self,
        process: int | str,
        type_: OpType,
        f: str,
        key: str | None = None,
        value: object = None,
        *,
        at: int | None = None,
    ) -> Op:
        self.time = self.time + MS if at is None else at
        op = Op(len(self.ops), self.time, process, type_, f, key, value)
        self.ops.append(op)
        return op

    # writes ---------------------------------------------------------------------------------
    def create_invoke(
        self, process: int, key: str, fields: Mapping[str, str | None] = FIELDS, **kw: int
    ) -> Op:
        value = {"practitioner_id": "pr1", "patient_id": "pa1", "fields": digest_fields(fields)}
        return self.op(process, "invoke", "create", key, value, **kw)

    def create_done(
        self,
        process: int,
        key: str,
        type_: OpType = "ok",
        fields: Mapping[str, str | None] = FIELDS,
        record_id: str = "1",
        **kw: int,
    ) -> Op:
        value: dict[str, object] = {
            "practitioner_id": "pr1",
            "patient_id": "pa1",
            "fields": digest_fields(fields),
        }
        if type_ == "ok":
            value |= {"id": record_id, "version": 1}
        return self.op(process, type_, "create", key, value, **kw)

    def create(
        self,
        process: int,
        key: str,
        type_: OpType = "ok",
        fields: Mapping[str, str | None] = FIELDS,
        record_id: str = "1",
    ) -> Op:
        self.create_invoke(process, key, fields)
        return self.create_done(process, key, type_, fields, record_id)

    def update_invoke(
        self, process: int, key: str, fields: Mapping[str, str | None], **kw: int
    ) -> Op:
        value = {
            "id": "1",
            "practitioner_id": "pr1",
            "patient_id": "pa1",
            "fields": digest_fields(fields),
        }
        return self.op(process, "invoke", "update", key, value, **kw)

    def update_done(
        self, process: int, key: str, type_: OpType, fields: Mapping[str, str | None], **kw: int
    ) -> Op:
        value = {
            "id": "1",
            "practitioner_id": "pr1",
            "patient_id": "pa1",
            "fields": digest_fields(fields),
        }
        return self.op(process, type_, "update", key, value, **kw)

    def update(
        self, process: int, key: str, fields: Mapping[str, str | None], type_: OpType = "ok"
    ) -> Op:
        self.update_invoke(process, key, fields)
        return self.update_done(process, key, type_, fields)

    # reads ----------------------------------------------------------------------------------
    def read(
        self, process: int, key: str, fields: Mapping[str, str | None] | None, record_id: str = "1"
    ) -> Op:
        """A read of one record: ``fields`` None means 404 (found=false)."""
        self.op(process, "invoke", "read", key, {"id": record_id})
        if fields is None:
            return self.op(process, "ok", "read", key, {"id": record_id, "found": False})
        full = {name: fields.get(name) for name in FIELDS}
        value = {"id": record_id, "found": True, "fields": digest_fields(full)}
        return self.op(process, "ok", "read", key, value)

    def list(self, process: int, keys: list[str], practitioner_id: str = "pr1") -> Op:
        self.op(process, "invoke", "list", None, {"practitioner_id": practitioner_id})
        return self.op(process, "ok", "list", None, {"keys": keys})

    def fault(self, f: str) -> None:
        value = {"fault": "kill", "kind": "service-kill", "description": "SIGKILL the service"}
        self.op("nemesis", "invoke", f, None, value)
        self.op("nemesis", "ok", f, None, value)


def record(
    key: str | None,
    fields: Mapping[str, str | None] = FIELDS,
    record_id: str = "1",
    practitioner_id: str = "pr1",
) -> FinalRecord:
    digests = {name: FieldDigest.of(text) for name, text in fields.items() if text is not None}
    return FinalRecord(record_id, key, practitioner_id, "pa1", 1, digests)


def final(*records: FinalRecord, complete: bool = True, time: int = 10**12) -> FinalRead:
    return FinalRead("api", complete, list(records), None if complete else "export cut", time)


def digest(text: str) -> dict[str, object]:
    return FieldDigest.of(text).to_json()
