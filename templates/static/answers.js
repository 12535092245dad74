// Save each answer as the candidate chooses it. Saves run one after another, so the
// last choice for a question is the one stored. Without JavaScript, Submit posts them all.
// The server decides whether the assessment is still open. When a save or a focus event
// gets HTTP 409 (withdrawn by the employer, invitation expired, time limit reached, or
// already submitted), the page shows the server's message with the reason. It also puts
// back the answers the server stored and disables the form.
// The page also reports when it loses and regains focus (another tab, another window,
// or the browser minimised), as "focus_lost" and "focus_regained" events.
// countdown.js dispatches "langos:time-up" on the form when the time limit runs out, with
// the message in event.detail.message, and the page locks the form the same way.
(() => {
  const form = document.getElementById("answers");
  const status = document.getElementById("save-status");
  const closedNotice = document.getElementById("closed-notice");
  const answered = document.querySelector("[data-testid=answered]");
  const csrf = form.querySelector("input[name=csrf_token]").value;
  const notSaved = "Your answer could not be saved. Check your connection; Submit sends all answers again.";
  // Field name (q_<question id>) to the option value that the server has stored. The
  // checked attributes in the HTML are the stored answers, because the checked property
  // already differs when the candidate chose an option before this script ran.
  const stored = new Map();
  for (const input of form.querySelectorAll("input[type=radio]")) {
    if (input.defaultChecked) {
      stored.set(input.name, input.value);
    }
  }
  let closed = false;
  let queue = Promise.resolve();
  // Window blur and focus often come in quick pairs (a dialog, a click into the browser's
  // own UI), so a change is reported once it has lasted this long.
  const focusDebounceMs = 400;
  let away = false;
  // Set when the candidate submits, because leaving the page then is not leaving the assessment.
  let submitting = false;
  let reportedAway = false;
  let focusTimer = null;

  function countAnswered() {
    answered.textContent = form.querySelectorAll("input[type=radio]:checked").length;
  }

  function showStored(input) {
    input.checked = stored.get(input.name) === input.value;
  }

  function lock(message, title = "This assessment is closed") {
    closed = true;
    for (const input of form.querySelectorAll("input[type=radio]")) {
      showStored(input);
      input.disabled = true;
    }
    for (const button of form.querySelectorAll("button")) {
      button.disabled = true;
    }
    countAnswered();
    status.textContent = "";
    const heading = document.createElement("strong");
    heading.textContent = title;
    closedNotice.replaceChildren(heading, document.createElement("br"), message);
    closedNotice.hidden = false;
    closedNotice.focus();
  }

  async function reportFocus() {
    focusTimer = null;
    if (closed || submitting || away === reportedAway) {
      return;
    }
    reportedAway = away;
    let response;
    try {
      // keepalive lets the request finish when the candidate is closing the page.
      response = await fetch(form.dataset.eventsUrl, {
        method: "POST",
        keepalive: true,
        headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
        body: JSON.stringify({kind: away ? "focus_lost" : "focus_regained"}),
      });
    } catch (error) {
      return;
    }
    if (response.status === 409) {
      const body = await response.json().catch(() => ({}));
      lock(body.error || "This assessment can no longer be changed.");
    }
  }

  function setAway(value) {
    away = value;
    if (focusTimer !== null) {
      clearTimeout(focusTimer);
    }
    // A hidden page may be closing, so its change is reported at once.
    if (document.visibilityState === "hidden") {
      reportFocus();
    } else {
      focusTimer = setTimeout(reportFocus, focusDebounceMs);
    }
  }

  async function save(input) {
    if (closed) {
      return;
    }
    status.textContent = "Saving…";
    let response;
    try {
      response = await fetch(form.dataset.answerUrl, {
        method: "POST",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
        body: JSON.stringify({question_id: input.name.slice(2), option: Number(input.value)}),
      });
    } catch (error) {
      status.textContent = notSaved;
      return;
    }
    const body = await response.json().catch(() => ({}));

    if (response.ok) {
      stored.set(input.name, input.value);
      if (closed) {
        // The time ran out while this save was in flight, and the server stored it in time,
        // so the locked form shows it.
        for (const option of form.querySelectorAll(`input[type=radio][name="${CSS.escape(input.name)}"]`)) {
          showStored(option);
        }
        countAnswered();
        return;
      }
      status.textContent = "Answer saved.";
    } else if (response.status === 409) {
      lock(body.error || "This assessment can no longer be changed.");
    } else if (response.status >= 500) {
      status.textContent = notSaved;
    } else {
      // The server rejected this choice, so show the stored one again, unless the
      // candidate has already picked another option for the question.
      if (input.checked) {
        for (const option of form.querySelectorAll(`input[type=radio][name="${CSS.escape(input.name)}"]`)) {
          showStored(option);
        }
        countAnswered();
      }
      status.textContent = body.error || `Your answer was not saved (HTTP ${response.status}).`;
    }
  }

  form.addEventListener("change", (event) => {
    const input = event.target;
    if (input.type !== "radio" || !input.name.startsWith("q_")) {
      return;
    }
    countAnswered();
    queue = queue.then(() => save(input));
  });

  form.addEventListener("submit", (event) => {
    if (closed) {
      event.preventDefault();
      return;
    }
    const questions = form.querySelectorAll("fieldset.question").length;
    const answeredNow = form.querySelectorAll("input[type=radio]:checked").length;
    const missing = questions - answeredNow;
    if (missing > 0 && !confirm(`${missing} question(s) have no answer. Submit anyway?`)) {
      event.preventDefault();
      return;
    }
    submitting = true;
  });

  form.addEventListener("langos:time-up", (event) => {
    if (!closed) {
      lock(event.detail.message, "Time is up");
    }
  });

  document.addEventListener("visibilitychange", () => setAway(document.visibilityState === "hidden"));
  window.addEventListener("blur", () => setAway(true));
  window.addEventListener("focus", () => setAway(false));

  // Save the choices made while this script was loading.
  for (const input of form.querySelectorAll("input[type=radio]:checked")) {
    if (!input.defaultChecked) {
      queue = queue.then(() => save(input));
    }
  }
  countAnswered();
})();
