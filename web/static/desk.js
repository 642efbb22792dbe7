// The call desk: place a call, follow its state as the line pushes it, hang up or leave the message.
"use strict";

(() => {
  const card = document.querySelector("article.card");
  if (!card) return;
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const panel = card.querySelector(".call-panel");
  const state = panel.querySelector(".state");
  const controls = panel.querySelector(".call-controls");
  const practiceNote = panel.querySelector(".practice-note");
  const hangup = controls.querySelector(".hangup");
  const mute = controls.querySelector(".mute");
  const voicemail = controls.querySelector(".voicemail");
  const interpreter = controls.querySelector(".interpreter");  // only if the school has one
  const interpreterState = panel.querySelector(".interpreter-state");
  const keysTo = panel.querySelector(".keys-to");
  const interpreterWords = {
    ringing: "Interpreter: ringing the interpreting service…",
    answered: "Interpreter: on the call",
    ended: "Interpreter: left the call",
  };
  const keypad = panel.querySelector(".keypad");
  const keys = keypad.querySelectorAll("button.key");
  const keysSent = keypad.querySelector(".keys-sent");
  const outcome = card.querySelector("form.outcome");
  const error = card.querySelector(".desk-error");
  const practice = card.querySelector("button.practice");
  const dialButtons = card.querySelectorAll("button.call, button.practice");
  const labels = { dialling: "Dialling…", ringing: "Ringing…", connected: "Connected" };
  // A call from the member of staff's own phone: theirs rings first, then the family's.
  const yourPhone = {
    ringing: "Ringing your phone…",
    answered: "Your phone answered: press 1 on it to be put through…",
  };
  const talkOn = card.querySelectorAll('input[name="via"]');
  const remembered = localStorage.getItem("phonehub.via");
  talkOn.forEach((radio) => {
    if (remembered) radio.checked = radio.value === remembered;
    radio.addEventListener("change", () => localStorage.setItem("phonehub.via", radio.value));
  });
  const via = () => card.querySelector('input[name="via"]:checked')?.value || "handset";
  const latest = new Map();  // attempt → the last message about it
  let answeredAt = null;
  let following = null;
  let ticking = null;
  let sent = "";  // the keys sent into this call, as the keypad shows them
  let sending = Promise.resolve();

  const post = async (url, body) => {
    const response = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token },
      body: JSON.stringify(body || {}),
    });
    return { ok: response.ok, data: await response.json() };
  };
  // About the call on the page: the hub may carry several, so the desk names its own.
  const postAboutCall = (url, body) => post(url, { ...body, attempt: panel.dataset.attempt });
  const showError = (message) => { error.textContent = message; error.hidden = !message; };

  // A positive call's plan is saved without leaving the card, so nothing typed elsewhere
  // on it (notes during the call) is lost.
  const planForm = card.querySelector("form.plan");
  planForm?.addEventListener("submit", async (event) => {
    event.preventDefault();
    const said = planForm.querySelector(".plan-saved");
    try {
      const response = await fetch(planForm.action, {
        method: "POST", body: new FormData(planForm), headers: { Accept: "application/json" },
      });
      const data = await response.json();
      said.textContent = data.saved || data.error;
    } catch {
      said.textContent = "The plan could not be saved: check the connection and try again.";
    }
  });

  // A call is up: its controls shown, the buttons that would start another disabled.
  const callUp = (attempt, { isPractice }) => {
    panel.dataset.attempt = attempt;
    panel.hidden = false;
    controls.hidden = false;
    keypad.hidden = false;
    keysSent.textContent = "";
    sent = "";
    practiceNote.hidden = !isPractice;
    dialButtons.forEach((b) => { b.disabled = true; });
    if (!isPractice) {
      outcome.querySelector('input[name="attempt"]').value = attempt;
      outcome.hidden = false;  // notes can be typed while talking
    }
  };

  // The call ended: its controls go, and focus moves to what comes next. A call that
  // never got going (the member of staff's own phone did not answer, the handset was
  // unplugged) needs no outcome: the family stays on the card, to call again.
  const callEnded = (reason, outcomeNeeded) => {
    following = null;
    state.textContent = `Ended: ${reason}`;
    controls.hidden = true;
    keypad.hidden = true;
    if (!outcomeNeeded) outcome.hidden = true;
    if (!outcome.hidden) {
      outcome.querySelector('input[name="outcome"]').focus();
    } else {  // nothing to record, so another call may be made
      dialButtons.forEach((b) => { b.disabled = false; });
      (outcomeNeeded ? practice || dialButtons[0] : dialButtons[0])?.focus();
    }
  };

  // The interpreter's leg: the button says what pressing it would do.
  const showInterpreter = (leg) => {
    const on = leg === "ringing" || leg === "answered";
    interpreter.setAttribute("aria-pressed", String(on));
    interpreter.textContent = on ? "Drop interpreter" : "Add interpreter";
    interpreterState.textContent = interpreterWords[leg] || "";
    keysTo.hidden = leg !== "answered";
  };

  // The connected timer counts on the page between the line's messages. A positive call
  // gently says when it has gone on as long as the school suggests.
  const lengthPrompt = panel.querySelector(".length-prompt");
  const promptAfter = Number(panel.dataset.lengthPromptS || 0);
  const showTimer = () => {
    const seconds = Math.max(0, Math.round((Date.now() - answeredAt) / 1000));
    state.textContent = `Connected ${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
    if (lengthPrompt && promptAfter && seconds >= promptAfter) lengthPrompt.hidden = false;
  };
  const stopTimer = () => { clearInterval(ticking); ticking = null; };

  // One state of the call, as the line pushed it.
  const show = (now) => {
    if (now.state === "ended") {
      stopTimer();
      callEnded(now.ended || "call ended", now.outcome_needed !== false);
      return;
    }
    mute.disabled = voicemail.disabled = now.state !== "connected";
    if (interpreter) {
      interpreter.disabled = now.state !== "connected";
      showInterpreter(now.interpreter);
    }
    keys.forEach((key) => { key.disabled = now.state !== "connected"; });
    if (now.voicemail === "playing") {
      stopTimer();
      state.textContent = "Leaving the school's message…";
    } else if (now.state === "connected") {
      answeredAt = answeredAt || (now.answered_at ? new Date(now.answered_at) : new Date());
      showTimer();
      ticking = ticking || setInterval(showTimer, 1000);
    } else if (now.state === "dialling" && yourPhone[now.your_phone]) {
      state.textContent = yourPhone[now.your_phone];
    } else {
      state.textContent = labels[now.state];
    }
  };

  // Follow one call: what the line already said about it, then each message as it comes.
  const follow = (attempt) => {
    following = String(attempt);
    answeredAt = null;
    stopTimer();
    const already = latest.get(following);
    if (already) show(already);
  };

  // The member of staff's calls, pushed by the panel as the line's events arrive. Each
  // (re)connection starts with the call as it is now, so a dropped connection resumes.
  // The browser reconnects by itself; only a drop of more than a couple of seconds is shown.
  const reconnecting = document.createElement("p");
  reconnecting.className = "muted reconnecting";
  reconnecting.setAttribute("aria-live", "polite");
  reconnecting.hidden = true;
  reconnecting.textContent = "Reconnecting…";
  panel.after(reconnecting);
  let downTimer = null;
  let events = null;
  const listen = () => {
    // A hidden tab holds no stream: a browser opens only six connections to the hub,
    // and six desk tabs left open would otherwise stall every other page.
    if (document.hidden || events) return;
    events = new EventSource("/desk/events");
    events.onopen = () => {
      clearTimeout(downTimer);
      downTimer = null;
      reconnecting.hidden = true;
    };
    events.onmessage = (message) => {
      const now = JSON.parse(message.data);
      latest.set(String(now.attempt), now);
      if (String(now.attempt) === following) show(now);
    };
    events.onerror = () => {
      downTimer = downTimer || setTimeout(() => { reconnecting.hidden = false; }, 2000);
      // Refused outright (a full hub, a signed-out session): the browser gives up, we don't.
      if (events.readyState === EventSource.CLOSED) {
        events = null;
        setTimeout(listen, 5000);
      }
    };
  };
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) { listen(); return; }
    if (events) { events.close(); events = null; }
    clearTimeout(downTimer);
    downTimer = null;
  });
  listen();

  card.querySelectorAll("button.call").forEach((button) => {
    button.addEventListener("click", async () => {
      showError("");
      button.disabled = true;
      const { ok, data } = await post("/desk/call", { entry: card.dataset.entry, number: button.dataset.number, via: via() });
      if (!ok) {  // a refused or failed dial needs no outcome: say why, and stay put
        showError(data.error);
        button.disabled = false;
        button.focus();
        return;
      }
      callUp(data.attempt, { isPractice: false });
      hangup.focus();
      follow(data.attempt);
    });
  });
  if (practice) {
    practice.addEventListener("click", async () => {
      showError("");
      practice.disabled = true;
      const { ok, data } = await post("/desk/practice", { via: via() });
      if (!ok) { showError(data.error); practice.disabled = false; practice.focus(); return; }
      callUp(data.attempt, { isPractice: true });
      hangup.focus();
      follow(data.attempt);
    });
  }
  hangup.addEventListener("click", async () => {
    const { ok, data } = await postAboutCall("/desk/hangup");
    if (!ok) showError(data.error);
  });
  // Mute: the family hears silence from the handset while still being heard.
  mute.addEventListener("click", async () => {
    const on = mute.getAttribute("aria-pressed") !== "true";
    const { ok, data } = await postAboutCall("/desk/mute", { on });
    if (!ok) { showError(data.error); return; }
    mute.setAttribute("aria-pressed", String(data.muted));
    mute.textContent = data.muted ? "Unmute (the family can't hear you)" : "Mute";
  });
  // The keypad: each key goes into the call as it is pressed, like a phone's. Presses
  // queue, one request at a time, so quick ones reach the line in the order pressed.
  const sendKey = async (key) => {
    const to = keysTo && !keysTo.hidden
      ? keysTo.querySelector('input[name="keys-to"]:checked').value : "family";
    const { ok, data } = await postAboutCall("/desk/keys", { keys: key, to });
    if (!ok) { showError(data.error); return; }
    showError("");
    sent = (sent + key).slice(-32);
    keysSent.textContent = `Sent: ${sent}`;
  };
  keys.forEach((key) => key.addEventListener("click", () => {
    // A key that could not be sent (the hub unreachable) says so and never blocks the next.
    sending = sending.then(() => sendKey(key.dataset.key))
      .catch(() => showError("That key could not be sent; check the hub is reachable and press it again."));
  }));
  if (interpreter) {
    interpreter.addEventListener("click", async () => {
      const on = interpreter.getAttribute("aria-pressed") !== "true";
      interpreter.disabled = true;
      const { ok, data } = await postAboutCall("/desk/interpreter", { on });
      interpreter.disabled = false;
      if (!ok) { showError(data.error); return; }
      showError("");
      showInterpreter(on ? "ringing" : "ended");
    });
  }
  voicemail.addEventListener("click", async () => {
    const { ok, data } = await postAboutCall("/desk/voicemail");
    if (!ok) showError(data.error);
  });
  // A call the line already had when the page was drawn (a reload, a second tab).
  if (panel.dataset.attempt && panel.dataset.up) follow(panel.dataset.attempt);
  // Ready: a click before now would have been lost, so the buttons waited until here.
  card.querySelectorAll("[data-ready-to-call]").forEach((b) => { b.disabled = false; });
})();
