// Buttons that change what someone holds or sells (refund, cancel, re-issue, delete, pause) ask first: a
// submit button (or its form) with data-confirm="question" sends the form only when the person agrees to
// that text; "Cancel" leaves everything as it was. Without JavaScript the form is sent as before.
document.addEventListener("submit", (event) => {
  const button = event.submitter;
  const question = (button && button.dataset.confirm) || event.target.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
