// Destructive buttons ask first: a submit button (or its form) with data-confirm="question" sends the
// form only when the person confirms. Without JavaScript the form is sent as before.
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  const question = (button && button.dataset.confirm) || event.target.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
