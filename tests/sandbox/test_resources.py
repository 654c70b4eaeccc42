"""The sandbox's parts: the user and limits a program runs with, and the grader's distrust of it."""
import json
import os
import resource

import pytest

from graders import KIT
from graders.child import confine
from graders.sandbox import folders, resources, users
needs_root = pytest.mark.skipif(not users.wanted(), reason="the sandbox user exists only when grading as root")


def test_the_program_runs_under_the_limits(program):
    run = program("""
        import os, resource

        def probe(student, pause):
            names = ["RLIMIT_NPROC", "RLIMIT_DATA", "RLIMIT_NOFILE", "RLIMIT_FSIZE", "RLIMIT_CORE"]
            return {"uid": os.getuid(), "groups": os.getgroups(),
                    "limits": {n: resource.getrlimit(getattr(resource, n))[1] for n in names}}
    """)
    value = run("probe").value
    assert value["limits"]["RLIMIT_DATA"] == resources.MAX_MEMORY
    assert value["limits"]["RLIMIT_NOFILE"] == resources.MAX_OPEN_FILES
    assert value["limits"]["RLIMIT_FSIZE"] == resources.MAX_FILE_SIZE
    assert value["limits"]["RLIMIT_CORE"] == 0
    if users.wanted():
        assert value["uid"] != 0 and value["uid"] in users._uids()
        assert value["groups"] in ([], [value["uid"]])
        assert value["limits"]["RLIMIT_NPROC"] == resources.MAX_PROCESSES


@needs_root
def test_the_sandbox_user_reaches_nothing_private(program):
    run = program("""
        import os

        def probe(student, pause, paths):
            tried = {}
            for path in paths:
                try:
                    os.listdir(path)
                    tried[path] = "read"
                except OSError as error:
                    tried[path] = type(error).__name__
            return tried
    """)
    paths = [users.SLOT_LOCKS, *(os.path.join(KIT, name) for name in folders.KIT_PRIVATE)]
    tried = run("probe", paths=paths).value
    assert tried[os.path.join(KIT, "solutions")] == "PermissionError"
    assert set(tried.values()) <= {"PermissionError", "FileNotFoundError"}, tried


def test_a_result_file_that_makes_no_sense_counts_as_no_result(program):
    run = program("""
        import json, os, sys

        def probe(student, pause):
            with open(sys.argv[1]) as f:
                job = json.load(f)
            with open(job["result"], "w") as f:
                json.dump({"value": [True], "error": "both at once"}, f)
            os._exit(0)
    """)
    outcome = run("probe")
    assert outcome.value is None and outcome.exit_code == 0


def test_the_result_is_never_read_through_a_link(tmp_path):
    (tmp_path / "real.json").write_text(json.dumps({"value": 1}))
    (tmp_path / "result.json").symlink_to(tmp_path / "real.json")
    assert folders.read_result(str(tmp_path / "result.json")) is None
    assert folders.read_result(str(tmp_path / "real.json")) == '{"value": 1}'


def test_the_tree_memory_watch_sees_a_process_over_its_cap():
    watch = resources.MemoryWatch(cap=1)
    assert watch.exceeded([os.getpid()], now=1.0)
    assert not watch.exceeded([os.getpid()], now=1.0 + resources.MEMORY_LOOK / 2)  # looks now and then only


@needs_root
def test_hand_over_gives_the_graders_files_and_never_what_a_link_points_to(tmp_path, monkeypatch):
    slot = users.Slot(users._uids().start)
    share = tmp_path / "share"
    (share / "data").mkdir(parents=True)
    (share / "data" / "tickets.json").write_text("{}")
    outside = tmp_path / "outside.txt"
    outside.write_text("root's")
    (share / "link").symlink_to(outside)
    os.link(outside, share / "hardlink")
    monkeypatch.setattr(folders, "_checks_tempdir", str(share))
    folders.hand_over(slot)
    assert (share / "data" / "tickets.json").stat().st_uid == slot.uid
    assert (share / "data").stat().st_uid == slot.uid
    assert outside.stat().st_uid == 0


def test_a_run_confines_itself_and_the_grader_keeps_its_own_limits():
    plan = resources.confinement(None, deadline=1.0)
    before = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard = before[1]
    wanted = resources.MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else min(resources.MAX_OPEN_FILES, hard)
    pid = os.fork()
    if pid == 0:  # as the zygote's child does, before the student's code
        try:
            confine.apply(plan)
            ok = resource.getrlimit(resource.RLIMIT_NOFILE) == (wanted, wanted) and os.getsid(0) == os.getpid()
            os._exit(0 if ok else 1)
        except BaseException:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == before


def test_a_run_has_a_lower_priority_and_as_root_a_cpu_share_of_its_own(program):
    run = program("""
        import multiprocessing, os

        def report(q):
            q.put((os.nice(0), open("/proc/self/cgroup").read()))

        def probe(student, pause):
            q = multiprocessing.Queue()
            p = multiprocessing.Process(target=report, args=(q,))
            p.start()
            got = q.get()
            p.join()
            return [os.nice(0), *got]
    """, start_method="spawn")
    nice, child_nice, groups = run("probe").value
    assert nice == child_nice == resources.NICE + os.nice(0)
    slot = users.current()
    if slot is not None and os.path.isdir(resources.CPU_GROUPS) and os.access(resources.CPU_GROUPS, os.W_OK):
        assert f":cpu:/kit-{slot.uid}\n" in groups or f"cpu,cpuacct:/kit-{slot.uid}\n" in groups, groups
