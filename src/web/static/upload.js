// The upload page's progress bar: the only script of the web view. Without
// it the form posts as usual and the page waits; with it the same form data
// goes by XMLHttpRequest, whose upload events drive the bar. The session
// cookie goes with it; the token never reaches the page.
'use strict';
(function () {
  var form = document.getElementById('upload-form');
  if (!form || !window.FormData || !window.XMLHttpRequest) return;
  var bar = document.getElementById('upload-progress');
  var status = document.getElementById('upload-status');
  var button = form.querySelector('button[type=submit]');

  function human(n) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? n : n.toFixed(1)) + ' ' + units[i];
  }

  function failed(text) {
    status.textContent = text;
    status.className = 'upload-status notice bad';
    button.disabled = false;
  }

  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open('POST', form.action);
    xhr.setRequestHeader('X-Plankton-Upload', '1');
    xhr.upload.addEventListener('progress', function (e) {
      if (!e.lengthComputable) return;
      bar.max = e.total;
      bar.value = e.loaded;
      status.textContent = 'Sent ' + human(e.loaded) + ' of ' + human(e.total) +
        ' (' + Math.floor(100 * e.loaded / e.total) + '%)';
    });
    xhr.upload.addEventListener('load', function () {
      status.textContent = 'Sent. Checking and storing it\u2026';
    });
    xhr.addEventListener('load', function () {
      var next = xhr.getResponseHeader('X-Plankton-Next');
      if (xhr.status === 200 && next && next.charAt(0) === '/') {
        window.location.assign(next);
        return;
      }
      var doc = new DOMParser().parseFromString(xhr.responseText, 'text/html');
      var message = doc.querySelector('.error-message');
      failed('Upload failed (' + xhr.status + '): ' +
        (message ? message.textContent : xhr.statusText));
    });
    xhr.addEventListener('error', function () {
      failed('Upload failed: the connection to the server broke off.');
    });
    bar.hidden = false;
    bar.value = 0;
    button.disabled = true;
    status.className = 'upload-status';
    status.textContent = 'Starting\u2026';
    xhr.send(new FormData(form));
  });
})();
