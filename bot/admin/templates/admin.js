// 反诈助手 admin: the progress bar of a background job, and the try-it chat. Nothing else needs script.
(function () {
  "use strict";
  const csrf = (document.querySelector("input[name=csrf]") || {}).value || "";

  async function post(url, body) {
    const reply = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json"},
      body: JSON.stringify(body || {}),
    });
    return reply.json();
  }

  async function get(url) {
    const reply = await fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}});
    return reply.json();
  }

  // --- job progress ---------------------------------------------------------------------
  const job = document.getElementById("job");
  if (job && job.dataset.state === "running") {
    const timer = setInterval(async function () {
      const state = await get("/admin/job");
      document.getElementById("job-bar").style.width = state.progress + "%";
      document.getElementById("job-step").textContent = state.step + " · " + state.progress + "%";
      if (state.state !== "running") {
        clearInterval(timer);
        window.location.reload();
      }
    }, 1000);
  }

  // --- try it -------------------------------------------------------------------------------
  const candidate = document.getElementById("candidate");
  if (!candidate) return;
  const chat = document.getElementById("chat");
  const stateLine = document.getElementById("candidate-state");
  const needsTraining = document.getElementById("needs-training");

  function bubble(text, who, buttons) {
    const div = document.createElement("div");
    div.className = "bubble " + who;
    div.textContent = text || "";
    (buttons || []).forEach(function (b) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = b.title;
      button.addEventListener("click", function () { say(b.payload, b.title); });
      div.appendChild(document.createElement("br"));
      div.appendChild(button);
    });
    chat.appendChild(div);
    chat.scrollTop = chat.scrollHeight;
  }

  async function say(text, shown) {
    bubble(shown || text, "me");
    const reply = await post("/admin/try/message", {text: text});
    if (reply.error) { bubble(reply.error, "bot"); return; }
    if (!reply.messages.length) bubble("（机器人没有回答）", "bot");
    reply.messages.forEach(function (m) { bubble(m.text, "bot", m.buttons); });
  }

  document.getElementById("say").addEventListener("submit", function (event) {
    event.preventDefault();
    const input = document.getElementById("message");
    if (input.value.trim()) { say(input.value.trim()); input.value = ""; }
  });

  document.getElementById("train").addEventListener("click", async function () {
    const reply = await post("/admin/try/train");
    if (reply.error) { stateLine.textContent = reply.error; return; }
    window.location.reload();
  });

  async function watch() {
    const started = await post("/admin/try/start");
    if (started.state === "needs_training") {
      needsTraining.hidden = false;
      stateLine.textContent = "草稿版本还没有训练。";
      return;
    }
    for (;;) {
      const status = await get("/admin/try/status");
      if (status.state === "ready" && !status.stale) {
        stateLine.className = "ok";
        stateLine.textContent = "草稿版本的机器人已就绪，发一句话试试。";
        candidate.dataset.ready = "1";
        return;
      }
      if (status.state === "failed") {
        stateLine.className = "error";
        stateLine.textContent = status.error;
        return;
      }
      if (status.stale) await post("/admin/try/start");
      await new Promise(function (done) { setTimeout(done, 1000); });
    }
  }
  watch();
})();
