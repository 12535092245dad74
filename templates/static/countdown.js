// Show the time left on the questions page, the deadline in the browser's time zone, a
// warning at 5 minutes and at 1 minute left, and lock the form when the time runs out.
// The time left is the deadline minus the server's time when it rendered the page, minus
// the time elapsed since this script started, so a wrong browser clock does not change it.
// The server completes the assessment at the deadline whatever this script shows. The
// lock only stops the candidate from choosing answers that the server would reject.
(() => {
  const countdown = document.getElementById("countdown");
  const form = document.getElementById("answers");
  const clock = document.getElementById("time-left");
  const warning = document.getElementById("time-warning");
  const deadlineLocal = document.getElementById("deadline-local");
  const deadline = Date.parse(countdown.dataset.deadline);
  const serverNow = Date.parse(countdown.dataset.serverNow);
  if (Number.isNaN(deadline) || Number.isNaN(serverNow)) {
    return;
  }
  const leftAtLoad = deadline - serverNow;
  const startedMonotonic = performance.now();
  const startedWall = Date.now();
  // Warnings by threshold in milliseconds, from the latest to the earliest.
  const warnings = [
    {below: 60 * 1000, text: "Less than 1 minute left. Press Submit answers to finish now, or your saved answers are submitted when the time runs out."},
    {below: 5 * 60 * 1000, text: "Less than 5 minutes left. When the time runs out, your saved answers are submitted."},
  ];
  let shownWarning = null;
  let timer = null;

  function elapsed() {
    // performance.now() is monotonic but may pause while the computer sleeps, and Date.now()
    // keeps counting during sleep but follows changes to the browser's clock. The larger of
    // the two covers sleep. NOTE: setting the browser's clock forward during the assessment
    // makes the page lock early; reloading the page corrects it.
    return Math.max(performance.now() - startedMonotonic, Date.now() - startedWall);
  }

  function format(milliseconds) {
    const seconds = Math.max(0, Math.ceil(milliseconds / 1000));
    const minutes = Math.floor(seconds / 60);
    return `${String(minutes).padStart(2, "0")}:${String(seconds % 60).padStart(2, "0")}`;
  }

  function showWarning(left) {
    const due = warnings.find((item) => left < item.below && (shownWarning === null || item.below < shownWarning.below));
    if (due === undefined) {
      return;
    }
    // Replacing the text of the role="alert" element makes screen readers announce it once.
    shownWarning = due;
    warning.textContent = due.text;
    warning.hidden = false;
  }

  function timeUp() {
    clearInterval(timer);
    warning.hidden = true;
    const minutes = countdown.dataset.timeLimit;
    const message = `The time limit of ${minutes} is up, and your saved answers are being submitted. Reload the page to see the confirmation.`;
    form.dispatchEvent(new CustomEvent("langos:time-up", {detail: {message}}));
  }

  function tick() {
    const left = leftAtLoad - elapsed();
    clock.textContent = format(left);
    if (left <= 0) {
      timeUp();
      return;
    }
    showWarning(left);
  }

  if (deadlineLocal !== null) {
    const local = new Intl.DateTimeFormat(undefined, {hour: "2-digit", minute: "2-digit", timeZoneName: "short"});
    deadlineLocal.textContent = ` (${local.format(new Date(deadline))} your time)`;
    deadlineLocal.hidden = false;
  }
  countdown.hidden = false;
  // Each tick computes the time left afresh, so a delayed tick (as in a background tab)
  // does not make the countdown drift.
  timer = setInterval(tick, 1000);
  tick();
})();
