// Buttons that change what a buyer holds (refund, cancel, re-issue) ask first: a form with
// data-confirm="..." submits only after the person agrees to that text; "Cancel" leaves everything as it was.
document.addEventListener("submit", function (event) {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
