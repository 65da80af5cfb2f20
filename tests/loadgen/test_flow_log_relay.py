"""A worker's flow log lines on their way to the master's run folder (a distributed run against AWS):
taken whole and in order by each report, bounded while they wait, and what was dropped said.
(tests/test_aws_target.py runs it for real: Locust with --processes 2 on the AWS target.)"""

import logging

from gevent import monkey

from simulator.loadgen.flow_log_relay import FILE_NAME, RelayedFlowLogs, WorkerFlowLogs


def test_each_report_takes_what_gathered_since_the_last_in_order():
    waiting = WorkerFlowLogs()
    waiting.write(b'{"n":1}\n{"n":2}\n')
    waiting.write(b'{"n":3}\n')
    assert waiting.take() == (b'{"n":1}\n{"n":2}\n{"n":3}\n', 0)
    assert waiting.take() == (b"", 0)


def test_lines_written_from_another_thread_while_reports_take_are_each_taken_once():
    """The contacts' loop is a native thread (a native one even where gevent patched threading)."""
    waiting = WorkerFlowLogs()
    taken: list[bytes] = []
    finished = monkey.get_original("_thread", "allocate_lock")()
    finished.acquire()

    def contacts_loop():
        for n in range(20_000):
            waiting.write(b"%d\n" % n)
        finished.release()

    monkey.get_original("_thread", "start_new_thread")(contacts_loop, ())
    while not finished.acquire(False):
        taken.append(waiting.take()[0])
    taken.append(waiting.take()[0])
    assert b"".join(taken).split() == [b"%d" % n for n in range(20_000)]


def test_past_the_bound_lines_are_dropped_counted_and_the_master_says_so(tmp_path, caplog):
    waiting = WorkerFlowLogs(max_bytes=20)
    waiting.write(b"0123456789\n")  # 11 bytes: kept
    waiting.write(b"a\nb\nc\nd\ne\n")  # 10 more: past 20, dropped (five entries)
    lines, dropped = waiting.take()
    assert (lines, dropped) == (b"0123456789\n", 5)
    master = RelayedFlowLogs(tmp_path)
    master.add(lines, dropped)
    master.add(b"second worker\n", 0)
    master.add(None, 2)  # a report with nothing waiting and two more dropped
    with caplog.at_level(logging.WARNING, logger="shiftsim"):
        master.close()
    assert (tmp_path / FILE_NAME).read_bytes() == b"0123456789\nsecond worker\n"
    assert master.dropped == 7
    assert "7 flow log entries from the workers are not in" in caplog.text


def test_no_lines_relayed_leaves_no_file(tmp_path):
    master = RelayedFlowLogs(tmp_path)
    master.add(b"", 0)
    master.close()
    assert not (tmp_path / FILE_NAME).exists()
