/* The camera file upload pages (/cameras/upload…): refuse a file the server would refuse before sending it
   (type, size: the app's request limit, gw.data.max_bytes), and a busy indicator while the upload's dry run
   or the commit runs (the buttons are disabled so a double tap does not send twice). The pages work as
   plain forms without this script. */
(function () {
  'use strict';
  var busy = document.getElementById('gw-cfile-busy');

  function showBusy(form) {
    Array.prototype.forEach.call(document.querySelectorAll('.gw-cfile button'), function (b) { b.disabled = true; });
    if (busy) { busy.textContent = form.dataset.busy || ''; busy.hidden = false; }
    form.setAttribute('aria-busy', 'true');
  }

  var form = document.getElementById('gw-cfile-form');
  var input = document.getElementById('gw-cfile-file');
  var fileError = document.getElementById('gw-cfile-file-error');

  function problem(file) {
    if (!file) return null;
    var dot = file.name.lastIndexOf('.');
    var suffix = dot >= 0 ? file.name.slice(dot).toLowerCase() : '';
    if ((gw.data.suffixes || []).indexOf(suffix) < 0) return gw.t('cfile_bad_suffix', {suffix: suffix || file.name});
    var max = gw.data.max_bytes;
    if (max && file.size > max) {
      return gw.t('cfile_too_big', {mb: (file.size / 1048576).toFixed(1), max: Math.floor(max / 1048576)});
    }
    return null;
  }

  function check() {
    var p = problem(input.files && input.files[0]);
    fileError.textContent = p || '';
    fileError.hidden = !p;
    return !p;
  }

  if (form && input) {
    input.addEventListener('change', check);
    form.addEventListener('submit', function (e) {
      if (!check()) { e.preventDefault(); return; }
      showBusy(form);
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll('form.gw-cfile-busyform'), function (f) {
    f.addEventListener('submit', function () { showBusy(f); });
  });
}());
