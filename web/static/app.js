// School Phone Hub: the little JavaScript the panel needs, no third-party code.
"use strict";

// Upload forms marked data-progress show how much of a large file has gone.
document.querySelectorAll("form[data-progress]").forEach((form) => {
  form.addEventListener("submit", (event) => {
    const bar = form.querySelector("progress");
    if (!bar || !window.XMLHttpRequest) return;
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open(form.method, form.action || window.location.href);
    bar.hidden = false;
    request.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
    });
    request.addEventListener("load", () => {
      document.open();
      document.write(request.responseText);
      document.close();
    });
    request.send(new FormData(form));
  });
});

// A date-and-time box's choice in words under it ("Tue 1 Dec 2026 at 16:30"): the box
// itself is drawn in the browser's locale, which may not write dates as a UK school does.
// Its value is the school-local wall-clock time, so it is read as written, not converted.
const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
document.querySelectorAll("[data-says-when]").forEach((words) => {
  const input = document.getElementById(words.dataset.saysWhen);
  if (!input) return;
  const say = () => {
    const parts = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)/.exec(input.value);
    if (!parts) { words.textContent = ""; return; }
    const [year, month, day] = parts.slice(1, 4).map(Number);
    const weekday = DAYS[new Date(year, month - 1, day).getDay()];
    words.textContent = `Chosen: ${weekday} ${day} ${MONTHS[month - 1]} ${year} at ${parts[4]}:${parts[5]}`;
  };
  input.addEventListener("input", say);
  input.addEventListener("change", say);
  say();
});

// A reflection counts its words as they are typed, against the 200 to 300 it aims for.
document.querySelectorAll("form[data-aim-low]").forEach((form) => {
  const counter = form.querySelector(".word-count");
  const boxes = form.querySelectorAll("textarea");
  const [low, high] = [form.dataset.aimLow, form.dataset.aimHigh].map(Number);
  const count = () => {
    let words = 0;
    boxes.forEach((box) => { words += (box.value.match(/[\p{L}\p{N}_’'-]+/gu) || []).length; });
    const hint = words < low ? `${low - words} to go` : words > high ? "a little over" : "right on the aim";
    counter.textContent = `${words} words: the aim is ${low} to ${high} (${hint}).`;
  };
  boxes.forEach((box) => box.addEventListener("input", count));
});
