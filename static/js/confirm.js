/* Irreversible and money actions ask once (issue 15): a form or its submit button carries
   data-confirm="what will happen, with the figures"; cancelling the dialog sends nothing. */
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var message = (button && button.dataset.confirm) || event.target.dataset.confirm;
  if (message && !window.confirm(message)) { event.preventDefault(); }
}, true);
