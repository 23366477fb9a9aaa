// knoten web interface: the little that needs script. Everything works
// without it; this adds the Markdown preview and upload progress.
'use strict';
(function () {
  var meta = document.querySelector('meta[name="csrf"]');
  var csrf = meta ? meta.getAttribute('content') : '';

  // Markdown preview: asks the node to render (the same safe renderer as the pages).
  document.querySelectorAll('[data-preview-for]').forEach(function (btn) {
    btn.addEventListener('click', function () {
      var ta = document.getElementById(btn.getAttribute('data-preview-for'));
      var out = document.getElementById(ta.getAttribute('data-preview'));
      fetch('api/markdown', {
        method: 'POST', credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
        body: JSON.stringify({ text: ta.value })
      }).then(function (r) { return r.json(); }).then(function (j) {
        out.innerHTML = j.html || '';   // produced by the server's safe renderer
        out.hidden = false;
      }).catch(function () { out.textContent = '?'; out.hidden = false; });
    });
  });
})();
