// knoten web interface: the little that needs script. Everything works
// without it but uploads; this adds the Markdown preview and the document
// upload (in pieces, with progress).
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

  // Document upload: each file goes to the node in pieces (POST api/uploads,
  // then PUT pieces of at most data-piece bytes), the node stores it, then
  // the document is published from the uploads (POST api/docs).
  var form = document.getElementById('doc-upload');
  if (!form) return;
  var bar = document.getElementById('upload-progress');
  var status = document.getElementById('upload-status');
  var errorBox = document.getElementById('upload-error');
  var piece = parseInt(form.getAttribute('data-piece'), 10) || 1048576;
  function t(name) { return form.getAttribute('data-t-' + name) || name; }
  // Errors carry the HTTP status (0: the node could not be reached) and the answer.
  function failure(status, j) {
    var e = new Error((j && (j.message || j.error)) || (status ? 'HTTP ' + status : 'network'));
    e.status = status;
    e.body = j || {};
    return e;
  }
  function api(method, url, body) {
    return fetch(url, {
      method: method, credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf },
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (!r.ok) throw failure(r.status, j);
        return j;
      });
    }, function () { throw failure(0); });
  }
  // The node keeps unfinished uploads over a restart (docs/api.md): when it
  // cannot be reached, or a proxy in front says it is away (502-504), the
  // upload waits and goes on where the node says it stands, for up to about
  // ten minutes.
  var RETRIES = 60;
  function away(e) { return e.status === 0 || e.status === 502 || e.status === 503 || e.status === 504; }
  function backoff(tries) { return wait(Math.min(1000 * Math.pow(2, tries), 10000)); }
  // One piece with XMLHttpRequest, for progress within the piece.
  function put(id, offset, blob, onProgress) {
    return new Promise(function (resolve, reject) {
      var x = new XMLHttpRequest();
      x.open('PUT', 'api/uploads/' + id + '?offset=' + offset);
      x.setRequestHeader('X-CSRF-Token', csrf);
      x.setRequestHeader('Content-Type', 'application/octet-stream');
      x.upload.onprogress = function (e) { onProgress(e.loaded); };
      x.onload = function () {
        var j = {};
        try { j = JSON.parse(x.responseText); } catch (e) { }
        if (x.status === 200) resolve(j);
        else reject(failure(x.status, j));
      };
      x.onerror = function () { reject(failure(0)); };
      x.send(blob);
    });
  }
  function wait(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  function untilStored(id, onStored, tries) {
    tries = tries || 0;
    return api('GET', 'api/uploads/' + id).then(function (u) {
      onStored(u.stored);
      if (u.state === 'ready') return u;
      if (u.state === 'failed') throw new Error(u.message || 'failed');
      return wait(200).then(function () { return untilStored(id, onStored); });
    }, function (e) {
      if (e.status === 404) throw new Error(t('lost'));
      if (!away(e) || tries >= RETRIES) throw e;
      show(t('reconnecting'));
      return backoff(tries).then(function () { return untilStored(id, onStored, tries + 1); });
    });
  }
  function show(text, pct) {
    status.textContent = text;
    if (pct !== undefined) bar.value = pct;
  }
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    errorBox.hidden = true;
    var files = Array.prototype.slice.call(form.elements.file.files || []);
    // An empty file is nearly always a mistake (a failed export, the wrong file): say so first.
    var empty = files.filter(function (f) { return f.size === 0; })[0];
    if (empty) {
      errorBox.textContent = t('empty').replace('%s', empty.name);
      errorBox.hidden = false;
      return;
    }
    var total = files.reduce(function (a, f) { return a + f.size; }, 0) || 1;
    var done = 0;  // bytes of finished files
    var ids = [];
    var button = form.querySelector('button[type=submit]');
    button.disabled = true;
    var chain = Promise.resolve();
    files.forEach(function (f) {
      chain = chain.then(function () {
        return api('POST', 'api/uploads', { name: f.name, size: f.size, mime: f.type || '' });
      }).then(function (u) {
        var offset = 0;
        function next(tries) {
          if (offset >= f.size) return Promise.resolve();
          var end = Math.min(offset + piece, f.size);
          return put(u.id, offset, f.slice(offset, end), function (loaded) {
            var pct = Math.floor(90 * (done + offset + loaded) / total);
            show(t('sending') + ': ' + f.name + ' (' + pct + ' %)', pct);
          }).then(function () { offset = end; return next(0); }, function (e) {
            // The node has fewer bytes than sent (a restart lost the last ones): go on from there.
            if (e.status === 409 && e.body.state === 'receiving' && e.body.received >= 0) {
              offset = e.body.received;
              return next(tries);
            }
            if (e.status === 404) throw new Error(t('lost'));
            if (!away(e) || tries >= RETRIES) throw e;
            show(t('reconnecting'));
            return backoff(tries).then(function () { return resume(tries + 1); });
          });
        }
        // Back after an interruption: ask where the upload stands.
        function resume(tries) {
          return api('GET', 'api/uploads/' + u.id).then(function (s) {
            if (s.state !== 'receiving') return Promise.resolve();
            offset = s.received;
            return next(tries);
          }, function (e) {
            if (e.status === 404) throw new Error(t('lost'));
            if (!away(e) || tries >= RETRIES) throw e;
            return backoff(tries).then(function () { return resume(tries + 1); });
          });
        }
        return next(0).then(function () {
          return untilStored(u.id, function (stored) {
            show(t('storing') + ': ' + f.name, Math.floor(90 * (done + f.size) / total));
          });
        }).then(function () { done += f.size; ids.push(u.id); });
      });
    });
    chain.then(function () {
      show(t('publishing'), 95);
      var keep = Array.prototype.slice.call(form.querySelectorAll('input[name=keep]:checked'))
        .map(function (c) { return parseInt(c.value, 10); });
      var v = function (n) { return form.elements[n] ? form.elements[n].value : ''; };
      var date = function (n) { return v(n) ? Date.parse(v(n) + 'T00:00:00Z') : undefined; };
      var doc = {
        title: v('title'), space: v('space'), kind: v('kind'), description: v('description'),
        tags: v('tags'), lang: v('lang'), licence: v('licence'),
        valid_from: date('valid_from'), valid_until: date('valid_until'), files: ids
      };
      if (v('supersedes')) { doc.supersedes = v('supersedes'); doc.keep = keep; }
      return api('POST', 'api/docs', doc);
    }).then(function (j) {
      show(t('publishing'), 100);
      window.location.href = 'docs/' + j.id + '?published=1';
    }).catch(function (e) {
      errorBox.textContent = t('failed') + ': ' + e.message;
      errorBox.hidden = false;
      show('', 0);
      button.disabled = false;
    });
  });
})();
