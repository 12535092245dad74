// The report's answer replay: shows one step at a time, chosen with Previous, Next or the
// slider, with that step's table of all answers open. Without this script the page lists
// every step, each with its table behind a disclosure. The block keeps the names out of the
// global scope that classic scripts share.
{
  const replay = document.querySelector("[data-replay]");
  const steps = replay ? Array.from(replay.querySelectorAll("[data-replay-step]")) : [];
  const controls = replay ? replay.querySelector("[data-replay-controls]") : null;

  if (steps.length > 0 && controls) {
    const previous = controls.querySelector("[data-replay-previous]");
    const next = controls.querySelector("[data-replay-next]");
    const slider = controls.querySelector("[data-replay-slider]");
    const position = controls.querySelector("[data-replay-position]");
    let current = 1;

    const show = (number) => {
      current = Math.min(Math.max(number, 1), steps.length);
      steps.forEach((step, index) => {
        step.hidden = index + 1 !== current;
      });
      slider.value = String(current);
      previous.disabled = current === 1;
      next.disabled = current === steps.length;
      position.textContent = `Step ${current} of ${steps.length}`;
    };

    steps.forEach((step) => {
      const details = step.querySelector("details");
      if (details) {
        details.open = true;
      }
    });
    previous.addEventListener("click", () => show(current - 1));
    next.addEventListener("click", () => show(current + 1));
    slider.addEventListener("input", () => show(Number(slider.value)));
    controls.hidden = false;
    show(1);
  }
}
