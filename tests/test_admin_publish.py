"""Putting versions live against fake Rasa replicas: the two paths, failures, rollback, restore.

The real thing (training, a real Rasa server loading the model) is in test_admin_browser.py;
here the replicas are fakes on loopback so that failures can be made to happen.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

import pytest

from bot.admin import content
from bot.admin.content import DOMAIN, SCENARIOS, Draft, read_files, training_key, write_files
from bot.admin.history import History
from bot.admin.publish import Job, Publisher, PublishFailed
from bot.admin.validation import Problem
from bot.config import AdminConfig
from tests.fakes import LoopbackJsonServer

ROOT = Path(__file__).resolve().parents[1]


class FakeRasa(LoopbackJsonServer):
    """Answers ``PUT /model`` with 204, or with 500 when ``broken``; records what it was asked to load."""

    def __init__(self, broken: bool = False) -> None:
        self.broken = broken
        self.loaded: list[str] = []

    def respond(self, path: str, query: str, content_type: str, body: str) -> tuple[int, dict]:
        assert path == "/model" and "token=secret" in query
        if self.broken:
            return 500, {"message": "out of memory"}
        self.loaded.append(json.loads(body)["model_file"])
        return 204, {}


@pytest.fixture
def replicas() -> list[FakeRasa]:
    fakes = [FakeRasa().start(), FakeRasa().start()]
    yield fakes
    for fake in fakes:
        fake.stop()


def publisher_for(tmp_path: Path, replicas: list[FakeRasa], validate: object = None) -> Publisher:
    live = tmp_path / "live"
    write_files(live, read_files(ROOT))
    model = tmp_path / "models" / "live.tar.gz"
    model.parent.mkdir()
    model.write_bytes(b"the live model")
    config = AdminConfig(live_root=live, admin_dir=tmp_path / "admin", rasa_urls=tuple(r.address for r in replicas),
                         rasa_token="secret", live_model=model, endpoints=tmp_path / "endpoints.yml",
                         secure_cookies=False)
    draft = Draft(live, config.admin_dir / "draft")
    history = History(f"sqlite:///{tmp_path / 'store.db'}")
    history.ensure_initial(draft.live_files())
    return Publisher(config, draft, history, validate or (lambda files: []))


def run(publisher: Publisher, start: object) -> Job:
    async def go() -> Job:
        job = start()
        await publisher._task
        return job
    return asyncio.run(go())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def make_would_retrain(publisher: Publisher) -> bool:
    """The Makefile's rule: the model is rebuilt when a training file is newer than it."""
    root = publisher.config.live_root
    newest = max((root / path).stat().st_mtime_ns for path in read_files(root)
                 if not path.startswith(content.RUNTIME_PREFIX))
    return newest > publisher.config.live_model.stat().st_mtime_ns


def file_states(root: Path) -> dict[str, tuple[int, int]]:
    """Each content file's mode and modification time."""
    return {path: (mode(root / path), (root / path).stat().st_mtime_ns) for path in read_files(root)}


def edit_advice(publisher: Publisher, truth: str) -> None:
    publisher.draft.save({SCENARIOS: content.edit_scenario(publisher.draft.read(SCENARIOS), "romance", {
        "name": "网络婚恋交友（杀猪盘）", "situation": "online", "truth": truth, "advice": "不要转账"})})


def test_runtime_edit_goes_live_without_touching_the_model(tmp_path: Path, replicas: list[FakeRasa]) -> None:
    publisher = publisher_for(tmp_path, replicas)
    edit_advice(publisher, "没见过面的恋人一谈钱，就是骗子。")
    assert not publisher.needs_training()
    job = run(publisher, lambda: publisher.publish("chen", "杀猪盘提醒"))
    assert job.state == "done", job.error
    assert "没见过面的恋人一谈钱" in (publisher.config.live_root / SCENARIOS).read_text("utf-8")
    assert all(not r.loaded for r in replicas)
    version = publisher.history.list()[0]
    assert (version.author, version.summary, version.how, version.changed) == ("chen", "杀猪盘提醒", "runtime",
                                                                               [SCENARIOS])
    assert "+  truth: 没见过面的恋人一谈钱，就是骗子。" in version.diff


def test_retrained_model_is_loaded_everywhere_then_installed(tmp_path: Path, replicas: list[FakeRasa]) -> None:
    publisher = publisher_for(tmp_path, replicas)
    rules = publisher.draft.read("stories/rules.yml") + "\n# a comment changes the training key\n"
    publisher.draft.save({"stories/rules.yml": rules})
    assert publisher.needs_training()
    trained = publisher.trainer.models_dir / f"{training_key(publisher.draft.files())}.tar.gz"
    trained.write_bytes(b"the new model")  # trained before (say, for the candidate): reused
    publisher.config.live_model.chmod(0o640)
    job = run(publisher, lambda: publisher.publish("chen", "规则"))
    assert job.state == "done", job.error
    assert [r.loaded for r in replicas] == [[str(trained)], [str(trained)]]
    assert publisher.config.live_model.read_bytes() == b"the new model"
    assert mode(publisher.config.live_model) == 0o640
    assert not make_would_retrain(publisher)
    assert (publisher.config.live_root / "stories" / "rules.yml").read_text("utf-8") == rules
    assert publisher.history.list()[0].how == "retrained"


def test_a_replica_that_cannot_load_puts_everything_back(tmp_path: Path, replicas: list[FakeRasa]) -> None:
    replicas[1].broken = True
    publisher = publisher_for(tmp_path, replicas)
    before = read_files(publisher.config.live_root)
    publisher.draft.save({"stories/rules.yml": publisher.draft.read("stories/rules.yml") + "\n# x\n"})
    (publisher.trainer.models_dir / f"{training_key(publisher.draft.files())}.tar.gz").write_bytes(b"new")
    job = run(publisher, lambda: publisher.publish("chen", "规则"))
    assert job.state == "failed" and "线上仍是原来的版本" in job.error and "out of memory" in job.error
    new_model = str(publisher.trainer.models_dir / f"{training_key(publisher.draft.files())}.tar.gz")
    assert replicas[0].loaded == [new_model, str(publisher.config.live_model)]  # loaded, then given back
    assert read_files(publisher.config.live_root) == before
    assert publisher.config.live_model.read_bytes() == b"the live model"
    assert len(publisher.history.list()) == 1


def test_invalid_or_empty_drafts_never_go_live(tmp_path: Path, replicas: list[FakeRasa]) -> None:
    publisher = publisher_for(tmp_path, replicas, validate=lambda files: [Problem(SCENARIOS, "场景编号不对")])
    before = read_files(publisher.config.live_root)
    job = run(publisher, lambda: publisher.publish("chen", "无"))
    assert job.state == "failed" and "没有要上线的改动" in job.error
    edit_advice(publisher, "新的说法")
    job = run(publisher, lambda: publisher.publish("chen", "无"))
    assert job.state == "failed" and "场景编号不对" in job.error
    assert read_files(publisher.config.live_root) == before


def test_restore_puts_an_earlier_version_back(tmp_path: Path, replicas: list[FakeRasa]) -> None:
    publisher = publisher_for(tmp_path, replicas)
    original = read_files(publisher.config.live_root)
    edit_advice(publisher, "第一次修改")
    run(publisher, lambda: publisher.publish("chen", "一"))
    edit_advice(publisher, "第二次修改")
    run(publisher, lambda: publisher.publish("chen", "二"))
    job = run(publisher, lambda: publisher.restore(1, "li"))
    assert job.state == "done", job.error
    assert read_files(publisher.config.live_root) == original
    assert publisher.draft.files() == original
    assert [v.summary for v in publisher.history.list()][:2] == ["恢复到版本 #1", "二"]


def test_a_draft_older_than_the_live_files_cannot_overwrite_them(tmp_path: Path, replicas: list[FakeRasa]) -> None:
    publisher = publisher_for(tmp_path, replicas)
    live_scenarios = publisher.config.live_root / SCENARIOS
    # someone else's version lands on the live files (a git pull, say); an untouched draft follows it
    live_scenarios.write_text(live_scenarios.read_text("utf-8") + "# 服务器上更新\n", encoding="utf-8")
    publisher.draft.follow_live()
    assert publisher.draft.files() == publisher.draft.live_files()
    # a draft edited before the live files changed again is refused, and nothing is overwritten
    edit_advice(publisher, "旧草稿里的修改")
    live_scenarios.write_text(live_scenarios.read_text("utf-8") + "# 又更新了\n", encoding="utf-8")
    publisher.draft.follow_live()
    assert publisher.draft.edited()
    with pytest.raises(PublishFailed, match="放弃草稿"):
        publisher.publish("chen", "旧草稿")
    assert "# 又更新了" in live_scenarios.read_text("utf-8")


def test_putting_live_rewrites_only_what_changed_and_keeps_modes(tmp_path: Path, replicas: list[FakeRasa]) -> None:
    """A response text edit must not make the next `make serve` retrain, nor hide files behind 0600."""
    publisher = publisher_for(tmp_path, replicas)
    live = publisher.config.live_root
    for index, path in enumerate(read_files(live)):  # as a deployment left them: readable, trained long ago
        (live / path).chmod(0o664 if index % 2 else 0o644)
        os.utime(live / path, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    before = file_states(live)
    assert not make_would_retrain(publisher)
    publisher.draft.save({DOMAIN: content.edit_response(publisher.draft.read(DOMAIN), "utter_greet",
                                                        [("您好！有可疑的电话、短信，发给我看看。", "")])})
    edit_advice(publisher, "没见过面的恋人一谈钱，就是骗子。")
    assert not publisher.needs_training()
    job = run(publisher, lambda: publisher.publish("chen", "问候语"))
    assert job.state == "done", job.error
    after = file_states(live)
    assert {path for path in before if after[path][1] != before[path][1]} == {DOMAIN, SCENARIOS}
    assert {path: state[0] for path, state in after.items()} == {path: state[0] for path, state in before.items()}
    assert "有可疑的电话、短信，发给我看看" in (live / DOMAIN).read_text("utf-8")
    assert publisher.config.live_model.read_bytes() == b"the live model" and not make_would_retrain(publisher)

    job = run(publisher, lambda: publisher.restore(1, "li"))  # the same way back
    assert job.state == "done", job.error
    restored = file_states(live)
    assert read_files(live) == read_files(ROOT)
    assert {path for path in after if restored[path][1] != after[path][1]} == {DOMAIN, SCENARIOS}
    assert {path: state[0] for path, state in restored.items()} == {path: state[0] for path, state in before.items()}
    assert not make_would_retrain(publisher)


def test_a_stale_live_model_is_not_made_to_look_current(tmp_path: Path, replicas: list[FakeRasa]) -> None:
    """If make was going to retrain anyway (training files changed by hand), publishing must not hide it."""
    publisher = publisher_for(tmp_path, replicas)
    os.utime(publisher.config.live_model, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
    assert make_would_retrain(publisher)
    edit_advice(publisher, "新的说法")
    job = run(publisher, lambda: publisher.publish("chen", "建议"))
    assert job.state == "done", job.error
    assert publisher.config.live_model.stat().st_mtime_ns == 1_700_000_000_000_000_000
    assert make_would_retrain(publisher)
