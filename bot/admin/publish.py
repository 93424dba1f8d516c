"""Putting a draft live, and the candidate bot that answers with the draft before that.

Two paths, chosen by :func:`bot.admin.content.training_key`:

* **Runtime only** (response texts, advice, report lines, regional numbers): nothing to
  train. The live files are replaced and the action server and its NLG endpoint read them
  at the next message. Seconds, no model reload.
* **Retrain** (examples, stories, rules, the domain's structure): ``rasa train`` runs in the
  background on a copy of the draft, reusing Rasa's cache for every unchanged component
  (a story edit trains in ~15 s; new examples retrain the intent model, ~4 min). The new
  model is loaded into every live replica with ``PUT /model``; conversations live in the
  tracker store, so none is dropped. If training or loading fails, the replicas keep (or
  get back) the old model, the live files are untouched, and the admin reads why.

One job runs at a time; its progress is what the page's progress bar shows.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

import aiohttp
import yaml

from bot.admin import content
from bot.admin.content import Draft, Files, changed, materialise, remove_tree, training_key, unified_diff, write_files
from bot.admin.history import History
from bot.admin.validation import Problem, validate_files
from bot.config import PROJECT_ROOT, TOKEN_ENV, AdminConfig
from bot.processes import action_endpoints, free_port, module_command, wait_http_async

logger = logging.getLogger(__name__)

ANSI = re.compile(r"\x1b\[[0-9;]*m")
COMPONENT_DONE = re.compile(r"(Finished training component|Restored component) '(\w+)'")
EPOCHS = re.compile(r"Epochs:\s+(\d+)%")
# The Makefile's model inputs besides the content files (its TRAIN_INPUTS and the spaCy pipeline).
MAKE_TRAINING_INPUTS = ("config.yml", "nlu/components.py", "nlu/spacy_pipeline.py",
                        "nlu/spacy/zh_fraudbot_v1/config.cfg")


class PublishFailed(Exception):
    """Why a job stopped; the text is shown to the administrator as it is."""


@dataclass
class Job:
    """The one background job: training a candidate, or putting a version live."""

    kind: str  # "publish" or "candidate"
    author: str
    state: str = "running"  # running, done, failed
    progress: int = 0
    step: str = "准备中"
    error: str = ""
    problems: list[Problem] = field(default_factory=list)
    version_id: int | None = None
    started: float = field(default_factory=time.time)

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "author": self.author, "state": self.state, "progress": self.progress,
                "step": self.step, "error": self.error, "version_id": self.version_id,
                "problems": [p.message for p in self.problems], "seconds": round(time.time() - self.started)}


def _component_count() -> int:
    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    return len(config.get("pipeline") or ()) + len(config.get("policies") or ())


class Trainer:
    """``rasa train`` on a copy of some files, one model per training key, kept for reuse."""

    def __init__(self, models_dir: Path) -> None:
        self.models_dir = models_dir
        models_dir.mkdir(parents=True, exist_ok=True)

    def adopt(self, files: Files, model: Path) -> None:
        """Register an already trained model for ``files`` (the live model when the admin starts)."""
        target = self.models_dir / f"{training_key(files)}.tar.gz"
        if model.exists() and not target.exists():
            try:
                os.link(model, target)
            except OSError:
                shutil.copyfile(model, target)

    def existing(self, files: Files) -> Path | None:
        path = self.models_dir / f"{training_key(files)}.tar.gz"
        return path if path.exists() else None

    async def model_for(self, files: Files, progress: Callable[[int, str], None]) -> Path:
        found = self.existing(files)
        if found:
            return found
        key = training_key(files)
        root = materialise(files)
        command = [sys.executable, "-m", "rasa", "train", "--data", str(root / "nlu" / "data"), str(root / "stories"),
                   "--config", str(PROJECT_ROOT / "config.yml"), "--domain", str(root / "domain.yml"),
                   "--out", str(self.models_dir), "--fixed-model-name", key]
        env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
        tail: list[str] = []
        total, done, diet = _component_count() + 10, 0, 0.0
        try:
            process = await asyncio.create_subprocess_exec(
                *command, cwd=PROJECT_ROOT, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
            assert process.stdout is not None
            buffer = b""
            while chunk := await process.stdout.read(4096):
                buffer += chunk
                *lines, buffer = re.split(rb"[\r\n]", buffer)
                for raw in lines:
                    line = ANSI.sub("", raw.decode("utf-8", "replace")).strip()
                    if not line:
                        continue
                    tail = (tail + [line])[-40:]
                    if COMPONENT_DONE.search(line):
                        done += 1
                        diet = 0.0
                    elif epochs := EPOCHS.search(line):
                        diet = int(epochs.group(1)) / 100
                    share = min(1.0, (done + 10 * diet) / total)
                    progress(5 + int(85 * share), "训练模型" + (f"（意图识别 {int(diet * 100)}%）" if diet else ""))
            code = await process.wait()
        finally:
            remove_tree(root)
        model = self.models_dir / f"{key}.tar.gz"
        if code != 0 or not model.exists():
            raise PublishFailed("训练失败，线上版本没有改变。原因：\n" + _training_error(tail))
        self._prune()
        return model

    def _prune(self, keep: int = 4) -> None:
        models = sorted(self.models_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in models[keep:]:
            old.unlink(missing_ok=True)


def _training_error(tail: list[str]) -> str:
    """The part of Rasa's output that says what went wrong, after a sentence in Chinese where we know it."""
    start = next((i for i, line in enumerate(tail) if "ERROR" in line or "Error" in line or "Exception" in line), None)
    lines = tail[start:] if start is not None else tail[-12:]
    keep = [re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+", "", line).replace("🚨", "").strip()
            for line in lines if not line.startswith(("File ", "Traceback", "warnings.warn"))]
    detail = "\n".join(keep[-15:])
    if "Contradicting rules or stories" in detail:
        return "规则或故事互相矛盾：同一句话之后，它们要机器人做不同的事。请改掉其中一条。\n" + detail
    return detail


class RasaServer:
    """One Rasa server's HTTP API (``--enable-api --auth-token``)."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.token = token

    async def _request(self, method: str, path: str, timeout: float, **kwargs: Any) -> tuple[int, Any]:
        params = {"token": self.token} if self.token else {}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http:
            async with http.request(method, self.url + path, params=params, **kwargs) as reply:
                body = await reply.text()
                return reply.status, body

    async def load(self, model: Path) -> None:
        status, body = await self._request("PUT", "/model", 600, json={"model_file": str(model)})
        if status != 204:
            raise PublishFailed(f"{self.url} 没能加载新模型（HTTP {status}）：{body[:300]}")

    async def say(self, sender: str, text: str) -> list[dict[str, Any]]:
        """The bot's messages for ``text`` through the REST channel."""
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
                body = {"sender": sender, "message": text}
                async with http.post(self.url + "/webhooks/rest/webhook", json=body) as reply:
                    if reply.status == 200:
                        return await reply.json()
                    raise PublishFailed(f"机器人出错了（HTTP {reply.status}）。")
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise PublishFailed("机器人没有回应，请稍后再试。") from error


class Candidate:
    """The candidate bot: its own action server (reading the draft) and Rasa server, started on demand.

    It keeps conversations in memory only: what administrators type while trying a draft
    is not stored anywhere.
    """

    def __init__(self, config: AdminConfig, draft: Draft) -> None:
        self.config = config
        self.draft = draft
        self.dir = config.admin_dir / "candidate"
        self.state = "stopped"  # stopped, starting, ready, failed
        self.error = ""
        self.model: Path | None = None
        self.server: RasaServer | None = None
        self._processes: list[asyncio.subprocess.Process] = []
        self._lock = asyncio.Lock()

    async def ensure(self, model: Path) -> None:
        """Running, with ``model`` loaded."""
        async with self._lock:
            if self.state != "ready":
                await self._start(model)
            elif self.model != model and self.server:
                try:
                    await self.server.load(model)
                    self.model = model
                except (PublishFailed, aiohttp.ClientError, asyncio.TimeoutError) as error:
                    self.state, self.error = "failed", f"候选机器人没能加载草稿的模型：{error}"

    async def _start(self, model: Path) -> None:
        if self._processes:  # a candidate that failed: start afresh
            await self.stop()
        self.state, self.error = "starting", ""
        self.dir.mkdir(parents=True, exist_ok=True)
        action_port, rasa_port = free_port(), free_port()
        (self.dir / "endpoints.yml").write_text(action_endpoints(f"http://127.0.0.1:{action_port}"),
                                                 encoding="utf-8")
        (self.dir / "credentials.yml").write_text("bot.channels.rest.SafeRestInput: {}\n", encoding="utf-8")
        env = {**os.environ, "FRAUDBOT_CONTENT_DIR": str(self.draft.root), "RASA_TELEMETRY_ENABLED": "false"}
        log = open(self.dir / "candidate.log", "ab")
        token = self.config.rasa_token or "candidate"
        try:
            self._processes = [
                await asyncio.create_subprocess_exec(
                    *module_command("actions.server", "--host", "127.0.0.1", "--port", str(action_port)),
                    cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log),
                await asyncio.create_subprocess_exec(
                    *module_command("bot.rasa_server", "run", "-m", str(model), "--enable-api"),
                    "--endpoints", str(self.dir / "endpoints.yml"), "--credentials", str(self.dir / "credentials.yml"),
                    "-i", "127.0.0.1", "--port", str(rasa_port), cwd=PROJECT_ROOT,
                    env={**env, TOKEN_ENV: token}, stdout=log, stderr=log)]
            await wait_http_async(f"http://127.0.0.1:{action_port}/health", 90, self._processes)
            await wait_http_async(f"http://127.0.0.1:{rasa_port}/webhooks/rest/", 240, self._processes)
        except (TimeoutError, RuntimeError) as error:
            reason = "进程意外退出，详见 candidate.log" if isinstance(error, RuntimeError) else error
            self.state, self.error = "failed", f"候选机器人没能启动：{reason}"
            await self.stop()
            self.state = "failed"
            return
        self.server = RasaServer(f"http://127.0.0.1:{rasa_port}", token)
        self.model, self.state = model, "ready"

    async def say(self, sender: str, text: str) -> list[dict[str, Any]]:
        if self.state != "ready" or self.server is None:
            raise PublishFailed("候选机器人还没有准备好。")
        return await self.server.say(sender, text)

    async def stop(self) -> None:
        for process in self._processes:
            if process.returncode is None:
                process.terminate()
        for process in self._processes:
            try:
                await asyncio.wait_for(process.wait(), 20)
            except asyncio.TimeoutError:
                process.kill()
        self._processes = []
        self.state, self.server, self.model = "stopped", None, None


class Publisher:
    """Runs the jobs: train the candidate, put the draft live, restore a version."""

    def __init__(self, config: AdminConfig, draft: Draft, history: History,
                 validate: Callable[[Files], list[Problem]] = validate_files) -> None:
        self.config = config
        self.draft = draft
        self.history = history
        self.validate = validate
        self.trainer = Trainer(config.admin_dir / "models")
        self.trainer.adopt(draft.live_files(), config.live_model)
        self.candidate = Candidate(config, draft)
        self.live = [RasaServer(url, config.rasa_token) for url in config.rasa_urls]
        self.job: Job | None = None
        self._task: asyncio.Task | None = None

    @property
    def busy(self) -> bool:
        return self.job is not None and self.job.state == "running"

    def needs_training(self, files: Files | None = None) -> bool:
        return training_key(files or self.draft.files()) != training_key(self.draft.live_files())

    def candidate_model(self) -> Path | None:
        """The model trained for the draft (the live one when only runtime files changed), if any."""
        return self.trainer.existing(self.draft.files())

    def _start(self, job: Job, work: Callable[[Job], Awaitable[None]]) -> Job:
        if self.busy:
            raise PublishFailed("已经有一个任务在进行，请等它完成。")
        self.job = job

        async def run() -> None:
            try:
                await work(job)
                job.state, job.progress = "done", 100
            except PublishFailed as error:
                job.state, job.error = "failed", str(error)
            except Exception as error:  # the admin must always learn that it failed
                logger.exception("admin job failed")
                job.state, job.error = "failed", f"出现意外错误，线上版本没有改变：{error}"

        self._task = asyncio.get_running_loop().create_task(run())
        return job

    def train_candidate(self, author: str) -> Job:
        async def work(job: Job) -> None:
            model = await self._model(job, self.draft.files())
            job.step, job.progress = "启动候选机器人", 95
            await self.candidate.ensure(model)
            job.step = "候选版本已就绪"
        return self._start(Job("candidate", author), work)

    def publish(self, author: str, summary: str, files: Files | None = None) -> Job:
        """Put ``files`` (default: the draft) live."""
        if files is None and self.draft.live_moved():
            raise PublishFailed("草稿开始编辑之后，线上文件被改过（有人上线了别的版本，或服务器更新了代码）。"
                                "为了不覆盖那些修改，这次没有上线：请先「放弃草稿」，再重新修改。")

        async def work(job: Job) -> None:
            await self._publish(job, files if files is not None else self.draft.files(), summary)
        return self._start(Job("publish", author), work)

    async def _model(self, job: Job, files: Files) -> Path:
        def progress(percent: int, step: str) -> None:
            job.progress, job.step = percent, step
        job.step = "训练模型"
        return await self.trainer.model_for(files, progress)

    async def _publish(self, job: Job, files: Files, summary: str) -> None:
        live = self.draft.live_files()
        paths = changed(live, files)
        if not paths:
            raise PublishFailed("草稿和线上版本一样，没有要上线的改动。")
        job.step, job.progress = "检查改动", 2
        job.problems = await asyncio.get_running_loop().run_in_executor(None, self.validate, files)
        if job.problems:
            raise PublishFailed("草稿里有错误，没有上线：\n" + "\n".join(p.message for p in job.problems))
        model = None
        if training_key(files) != training_key(live):
            model = await self._model(job, files)
            job.step, job.progress = "加载新模型", 92
            await self._load_everywhere(model)
        job.step, job.progress = "写入线上文件", 97
        model_was_current = self._live_model_is_current(live)
        write_files(self.config.live_root, files)
        if model is not None:
            self._install_model(model)
        elif model_was_current:
            # Same training key: the live model still fits, but a rewritten domain.yml (a response
            # text) is now newer than it, and make would retrain for nothing at the next start.
            os.utime(self.config.live_model)
        job.version_id = self.history.record(job.author, summary or "（未填写说明）",
                                             "retrained" if model else "runtime", paths,
                                             unified_diff(live, files), files)
        self.draft.reset(files)
        job.step = "已上线"

    async def _load_everywhere(self, model: Path) -> None:
        """Load ``model`` into every replica; if one fails, the others get the live model back.

        The live model is the file a restart loads (``FRAUDBOT_MODEL``): every replica runs it
        until a version is put live, and it is replaced only after all replicas loaded the new one.
        """
        loaded: list[RasaServer] = []
        try:
            for server in self.live:
                await server.load(model)
                loaded.append(server)
        except (PublishFailed, aiohttp.ClientError, asyncio.TimeoutError) as error:
            for server in loaded:
                try:
                    await server.load(self.config.live_model)
                except (PublishFailed, aiohttp.ClientError, asyncio.TimeoutError):
                    logger.exception("could not put the live model back on %s", server.url)
            message = str(error) or type(error).__name__
            raise PublishFailed(f"新模型没能加载，线上仍是原来的版本。原因：{message}") from error

    def _live_model_is_current(self, live: Files) -> bool:
        """What make decides: the live model is newer than every file it was trained from."""
        model = self.config.live_model
        if not model.exists():
            return False
        inputs = [self.config.live_root / path for path in live if not path.startswith(content.RUNTIME_PREFIX)]
        inputs += [PROJECT_ROOT / path for path in MAKE_TRAINING_INPUTS]
        newest = max((path.stat().st_mtime for path in inputs if path.exists()), default=0.0)
        return model.stat().st_mtime >= newest

    def _install_model(self, model: Path) -> None:
        """The model a restart loads (``make run`` and ``make serve`` use it), keeping the file's mode.

        Installed after the live files are written, so it is newer than they are and make keeps it.
        """
        target = self.config.live_model
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(model, temporary)
        if target.exists():
            os.chmod(temporary, stat.S_IMODE(target.stat().st_mode))
        os.replace(temporary, target)

    def restore(self, version_id: int, author: str) -> Job:
        found = self.history.get(version_id)
        if found is None:
            raise PublishFailed(f"没有版本 #{version_id}。")
        _, files = found
        return self.publish(author, f"恢复到版本 #{version_id}", files)
