"""What the kit makes private before a submission runs as the sandbox user: solutions/, tests/, .git/ and
every check's file (hidden checks are in them) and bank (which names them), whatever their modes were."""
import stat

from graders.sandbox import folders
def test_the_private_folders_and_the_checks_lose_every_bit_for_others(tmp_path):
    for folder in ("solutions", "tests", ".git", "graders/lock", "graders/engine"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder).chmod(0o755)
    for name in ("graders/lock/test_lock.py", "graders/lock/bank.toml", "graders/lock/probe.py", "graders/engine/run.py"):
        (tmp_path / name).write_text("")
        (tmp_path / name).chmod(0o644)
    folders.protect_kit(str(tmp_path), slot=object())
    mode = {p.relative_to(tmp_path).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in tmp_path.rglob("*")}
    assert [mode[n] for n in ("solutions", "tests", ".git", "graders/lock/test_lock.py", "graders/lock/bank.toml")] == [0o700] * 3 + [0o600] * 2
    # What the program runs stays readable: the probe and the engine.
    assert [mode[n] for n in ("graders/lock/probe.py", "graders/engine/run.py", "graders/lock")] == [0o644] * 2 + [0o755]


def test_nothing_changes_without_a_sandbox_user(tmp_path):
    (tmp_path / "graders" / "lock").mkdir(parents=True)
    (tmp_path / "graders" / "lock" / "test_lock.py").write_text("")
    (tmp_path / "graders" / "lock" / "test_lock.py").chmod(0o644)
    folders.protect_kit(str(tmp_path), slot=None)
    assert stat.S_IMODE((tmp_path / "graders" / "lock" / "test_lock.py").stat().st_mode) == 0o644
