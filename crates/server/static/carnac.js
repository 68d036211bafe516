// Carnac's one script: it only improves pages that work without it (the Content-Security-
// Policy allows no other script, and no inline one).
"use strict";

// A transfer's upload shows its progress: the form is sent by XMLHttpRequest (whose upload
// reports progress, which fetch does not), then the browser goes where the server sent it.
function progressiveUpload(form) {
  const bar = form.querySelector("progress");
  const status = form.querySelector("[data-progression]");
  const button = form.querySelector("button[type=submit]");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) { return; }
      const percent = Math.floor((e.loaded * 100) / e.total);
      bar.value = percent;
      status.textContent = "Envoi : " + percent + "\u202f%";
    });
    request.addEventListener("load", function () {
      // The answer is the transfer's page after a redirect, or the form with its error.
      if (request.status === 200 && request.responseURL) {
        window.location.assign(request.responseURL);
      } else {
        document.open();
        document.write(request.responseText);
        document.close();
      }
    });
    request.addEventListener("error", function () {
      status.textContent = "L\u2019envoi a été interrompu\u202f: vérifiez votre connexion, puis recommencez.";
      button.disabled = false;
    });
    button.disabled = true;
    bar.hidden = false;
    status.textContent = "Envoi : 0\u202f%";
    request.send(new FormData(form));
  });
}

// A form that does what cannot be undone asks once more.
function confirmBefore(form) {
  form.addEventListener("submit", function (event) {
    if (!window.confirm(form.dataset.confirmer)) { event.preventDefault(); }
  });
}

document.querySelectorAll("form[data-envoi]").forEach(progressiveUpload);
document.querySelectorAll("form[data-confirmer]").forEach(confirmBefore);

// An export's progress is asked for every few seconds and shown; once the export ends, the
// page is loaded again (with its download link). Without the script, a link reloads it.
function followProgress(bar) {
  const text = bar.closest(".etape").querySelector("[data-suivi-texte]");
  const ask = function () {
    fetch(bar.dataset.suivi, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (p) {
        if (!p) { return; }
        if (!p.running) { window.location.reload(); return; }
        bar.max = p.total;
        bar.value = p.done;
        if (text.textContent !== p.text) { text.textContent = p.text; }
        window.setTimeout(ask, 3000);
      })
      .catch(function () { window.setTimeout(ask, 10000); });
  };
  window.setTimeout(ask, 3000);
}

document.querySelectorAll("progress[data-suivi]").forEach(followProgress);
