"""Following a run while it goes on: the live verifier, stop conditions and the web UI's board.

Everything here listens to the history (:meth:`HistoryWriter.listen`): what the live parts see is
exactly what the verifiers will read afterwards.
"""

from ackguard.harness.live.damage import LiveDamage

__all__ = ["LiveDamage"]
