"""ackguard: the one import package.

The repository keeps its folders at the top (``harness``, ``fakes``, ``reports``, ``scenarios``);
they are installed here, as ``ackguard.harness`` and so on, so that a project's own ``reports`` or
``scenarios`` package never shadows ours, nor ours theirs.
"""

__version__ = "0.1.0"
