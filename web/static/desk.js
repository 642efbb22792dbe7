// The call desk: place a call, follow its state, hang up or leave the message.
"use strict";

(() => {
  const card = document.querySelector("article.card");
  if (!card) return;
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const panel = card.querySelector(".call-panel");
  const state = panel.querySelector(".state");
  const error = card.querySelector(".desk-error");
  const labels = { dialling: "Dialling…", ringing: "Ringing…", connected: "Connected" };
  let answeredAt = null;

  const post = async (url, body) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(body || {}),
    });
    return { ok: response.ok, data: await response.json() };
  };
  const showError = (message) => { error.textContent = message; error.hidden = !message; };

  const follow = async (attempt) => {
    panel.hidden = false;
    card.querySelectorAll("button.call, button.practice").forEach((b) => { b.disabled = true; });
    for (;;) {
      const response = await fetch(`/desk/attempts/${attempt}`, { headers: { Accept: "application/json" } });
      const now = await response.json();
      if (now.state === "ended") {
        state.textContent = `Ended: ${now.ended}`;
        setTimeout(() => window.location.reload(), 800);  // the outcome form comes next
        return;
      }
      mute.disabled = now.state !== "connected";
      if (now.state === "connected") {
        answeredAt = answeredAt || new Date(now.answered_at);
        const seconds = Math.max(0, Math.round((Date.now() - answeredAt) / 1000));
        state.textContent = `Connected ${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
      } else {
        state.textContent = labels[now.state];
      }
      await new Promise((done) => setTimeout(done, 400));
    }
  };

  card.querySelectorAll("button.call").forEach((button) => {
    button.addEventListener("click", async () => {
      showError("");
      button.disabled = true;
      const { ok, data } = await post("/desk/call", { entry: card.dataset.entry, number: button.dataset.number });
      if (!ok) {
        showError(data.error);
        if (data.attempt) window.location.reload();
        else button.disabled = false;
        return;
      }
      panel.dataset.attempt = data.attempt;
      follow(data.attempt);
    });
  });
  const practice = card.querySelector("button.practice");
  if (practice) {
    practice.addEventListener("click", async () => {
      showError("");
      const { ok, data } = await post("/desk/practice");
      if (!ok) { showError(data.error); return; }
      practice.disabled = true;
      follow(data.attempt);
    });
  }
  panel.querySelector(".hangup").addEventListener("click", async () => {
    const { ok, data } = await post("/desk/hangup");
    if (!ok) showError(data.error);
  });
  // Mute: the family hears silence from the handset while still being heard.
  const mute = panel.querySelector(".mute");
  mute.addEventListener("click", async () => {
    const on = mute.getAttribute("aria-pressed") !== "true";
    const { ok, data } = await post("/desk/mute", { on });
    if (!ok) { showError(data.error); return; }
    mute.setAttribute("aria-pressed", String(data.muted));
    mute.textContent = data.muted ? "Unmute (the family can't hear you)" : "Mute";
  });
  panel.querySelector(".voicemail").addEventListener("click", async () => {
    const { ok, data } = await post("/desk/voicemail");
    if (!ok) showError(data.error);
  });
  if (panel.dataset.attempt && !state.textContent.startsWith("Ended")) follow(panel.dataset.attempt);
})();
