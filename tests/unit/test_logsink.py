"""The query-log sink drops instead of growing, and says so on /metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from resolver.metrics import Metrics
from resolver.query.logsink import DROPPED_FAMILY, MAX_PENDING, LogSink


@pytest.mark.asyncio
async def test_a_full_batch_drops_and_counts(tmp_path: Path) -> None:
    metrics = Metrics()
    sink = LogSink(str(tmp_path / "q.log"), metrics.count)
    for i in range(MAX_PENDING + 5):  # no await: the loop gets no turn to flush
        sink.write(f"line {i}")
    assert len(sink.pending) == MAX_PENDING and sink.dropped == 5
    sink.close()
    assert (tmp_path / "q.log").read_text().count("\n") == MAX_PENDING
    text = metrics.render().decode()
    assert f'{DROPPED_FAMILY}_total{{reason="full"}} 5.0' in text


def test_a_refused_write_is_counted(tmp_path: Path) -> None:
    metrics = Metrics()
    sink = LogSink(str(tmp_path / "q.log"), metrics.count)
    sink.stream.close()  # the file refuses: ValueError on write
    sink.write("lost")
    assert sink.dropped == 1
    assert f'{DROPPED_FAMILY}_total{{reason="write_error"}} 1.0' in metrics.render().decode()
