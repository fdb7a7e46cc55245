// The admin web page's only script: "Copy" buttons. Served from the binary as a file, so that
// the content security policy needs no inline script. Without it, the text stays selectable.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    var status = document.getElementById(button.getAttribute("data-status"));
    if (!field || !status) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var say = function (copied) {
        status.textContent = copied ? "Copied." : "Select the text and copy it.";
      };
      var fallback = function () {
        field.focus();
        field.select();
        var copied = false;
        try {
          copied = document.execCommand("copy");
        } catch (e) {
          copied = false;
        }
        say(copied);
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(field.value).then(function () { say(true); }, fallback);
      } else {
        fallback();
      }
    });
  });
});
