"""The next offset due on each input partition, to notice messages the consumer skipped."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["OffsetWatch"]


@dataclass(slots=True)
class OffsetWatch:
    """The next offset due on each input partition, to notice skipped messages.

    The stages' offset checks skip anything at or below a record's applied offset, so a
    message delivered after a later one of the same partition would count as already
    applied. Kafka keeps a partition in order, but Faust can skip a prefetched batch
    around a rebalance (faust-streaming issues #216, #221, #236); the worker reads such
    a hole back from Kafka before it folds the message after it.
    """

    due: dict[tuple[str, int], int] = field(default_factory=dict)

    def skipped(self, topic: str, partition: int, offset: int) -> tuple[int, int] | None:
        """Note a message; return the offsets ``[start, end)`` skipped right before it."""
        where = (topic, partition)
        due = self.due.get(where)
        if due is None or offset >= due:
            self.due[where] = offset + 1
        # Below ``due`` is a redelivery after a seek back: those offsets were seen.
        return (due, offset) if due is not None and offset > due else None

    def run(self, topic: str, partition: int, first: int, last: int) -> tuple[int, int] | None:
        """Note consecutive messages ``first``..``last`` of one partition, as
        :meth:`skipped` notes one; return the offsets skipped right before them."""
        hole = self.skipped(topic, partition, first)
        if last > first:
            self.skipped(topic, partition, last)
        return hole

    def keep_only(self, partitions: set[tuple[str, int]]) -> None:
        """Forget partitions no longer assigned: whoever held them meanwhile moved on."""
        for where in [where for where in self.due if where not in partitions]:
            del self.due[where]
