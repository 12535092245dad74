// The assessment type form: Add and Remove buttons change the categories and questions in
// the page. Without this script the same buttons submit the form, and the server re-renders it.
(() => {
  const form = document.querySelector("form.type-form");
  const categories = form && form.querySelector("[data-categories]");
  const categoryTemplate = document.getElementById("category-template");
  const questionTemplate = document.getElementById("question-template");
  if (!form || !categories || !categoryTemplate || !questionTemplate) {
    return;
  }

  // Give every field the name the server reads, e.g. categories-0-questions-1-options,
  // and every button the action value for its block.
  function renumber() {
    categories.querySelectorAll(":scope > [data-category]").forEach((category, ci) => {
      category.querySelector("[data-category-title]").textContent = `Category ${ci + 1}`;
      category.querySelector("[data-add-question]").value = `add-question-${ci}`;
      category.querySelector("[data-remove-category]").value = `remove-category-${ci}`;
      category.querySelectorAll("[data-field]").forEach((field) => {
        if (!field.closest("[data-question]")) {
          field.name = `categories-${ci}-${field.dataset.field}`;
        }
      });
      category.querySelectorAll("[data-questions] > [data-question]").forEach((question, qi) => {
        question.querySelector("[data-question-title]").textContent = `Question ${qi + 1}`;
        question.querySelector("[data-remove-question]").value = `remove-question-${ci}-${qi}`;
        question.querySelectorAll("[data-field]").forEach((field) => {
          field.name = `categories-${ci}-questions-${qi}-${field.dataset.field}`;
        });
      });
    });
  }

  function copyOf(template) {
    return template.content.firstElementChild.cloneNode(true);
  }

  function focusFirstField(block) {
    const field = block.querySelector("input[type=text], textarea");
    if (field) {
      field.focus();
    }
  }

  // The correct option is a line number, so its maximum follows the number of option lines.
  form.addEventListener("input", (event) => {
    const options = event.target;
    if (options.dataset.field !== "options") {
      return;
    }
    const count = options.value.split("\n").filter((line) => line.trim() !== "").length;
    const correct = options.closest("[data-question]").querySelector("[data-field=correct_option]");
    correct.max = String(Math.max(count, 1));
  });

  form.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button || !form.contains(button)) {
      return;
    }
    let added = null;
    if (button.hasAttribute("data-add-category")) {
      added = copyOf(categoryTemplate);
      categories.appendChild(added);
    } else if (button.hasAttribute("data-remove-category")) {
      button.closest("[data-category]").remove();
    } else if (button.hasAttribute("data-add-question")) {
      added = copyOf(questionTemplate);
      button.closest("[data-category]").querySelector("[data-questions]").appendChild(added);
    } else if (button.hasAttribute("data-remove-question")) {
      button.closest("[data-question]").remove();
    } else {
      return;
    }
    event.preventDefault();
    renumber();
    if (added) {
      focusFirstField(added);
    }
  });

  renumber();
})();
