// The inbox page: lists images newest first and refusals beside them, and
// follows /api/v1/events to add what arrives. Every text from the receiver
// (names come from senders) goes into the page through textContent only.
'use strict';

(function () {
  const POLL_MS = 1000;
  const state = { seq: 0, names: new Set(), loaded: 0, failed: 0, refusals: 0 };

  function byId(id) {
    return document.getElementById(id);
  }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) {
      e.className = cls;
    }
    if (text !== undefined && text !== null) {
      e.textContent = String(text);
    }
    return e;
  }

  function humanSize(n) {
    const units = ['bytes', 'KiB', 'MiB', 'GiB'];
    let v = n;
    let u = 0;
    while (v >= 1024 && u < units.length - 1) {
      v /= 1024;
      u++;
    }
    return (u === 0 ? String(v) : v.toFixed(1)) + ' ' + units[u];
  }

  function apiUrl(kind, name) {
    return '/api/v1/' + kind + '/' + encodeURIComponent(name);
  }

  function field(dl, label, value, cls) {
    dl.appendChild(el('dt', null, label));
    dl.appendChild(el('dd', cls, value));
  }

  function publish() {
    const b = document.body.dataset;
    b.images = String(state.names.size);
    b.thumbsLoaded = String(state.loaded);
    b.thumbsFailed = String(state.failed);
    b.refusals = String(state.refusals);
  }

  function card(img) {
    const li = el('li', 'card');
    li.dataset.name = img.name;
    const link = el('a', 'frame');
    link.href = apiUrl('images', img.name);
    link.rel = 'noopener noreferrer';
    const thumb = el('img', 'thumb');
    thumb.alt = img.name;
    thumb.addEventListener('load', function () {
      thumb.dataset.loaded = '1';
      thumb.dataset.naturalWidth = String(thumb.naturalWidth);
      state.loaded++;
      publish();
    });
    thumb.addEventListener('error', function () {
      thumb.dataset.loaded = '0';
      state.failed++;
      publish();
    });
    thumb.src = apiUrl('thumbs', img.name);
    link.appendChild(thumb);
    li.appendChild(link);
    const dl = el('dl');
    field(dl, 'Name', img.name, 'name');
    field(dl, 'Size', humanSize(img.size), 'size');
    field(dl, 'Pixels', img.width && img.height ? img.width + ' × ' + img.height : '?', 'dims');
    field(dl, 'Sender', img.sender !== null ? img.sender : '(no name)', 'sender');
    field(dl, 'Key', img.fingerprint, 'fp');
    field(dl, 'Received', new Date(img.received_unix * 1000).toLocaleString(), 'time');
    field(dl, 'BLAKE2b', img.hash, 'hash');
    li.appendChild(dl);
    return li;
  }

  function refusal(e) {
    const li = el('li', 'refusal');
    li.dataset.seq = String(e.seq);
    li.dataset.status = e.status !== null ? e.status : e.reason !== null ? e.reason : e.kind;
    let what = e.status;
    if (e.kind === 'auth-failed') {
      what = 'not authorised: ' + e.reason;
    } else if (e.kind === 'connection-refused') {
      what = 'connection refused: ' + e.reason;
    } else if (e.kind === 'aborted') {
      what = 'aborted';
    } else if (e.kind === 'cancelled') {
      what = 'cancelled by sender';
    }
    li.appendChild(el('div', 'what', what));
    if (e.name !== null) {
      li.appendChild(el('div', 'name', e.name));
    }
    if (e.message) {
      li.appendChild(el('div', 'message', e.message));
    }
    const who = [e.peer, e.sender, e.fingerprint].filter(function (x) {
      return x !== null && x !== '';
    });
    li.appendChild(el('div', 'muted', new Date(e.time_unix * 1000).toLocaleString() + ' · ' +
                      who.join(' · ')));
    return li;
  }

  async function getJSON(url) {
    const r = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
    if (!r.ok) {
      throw new Error(url + ': HTTP ' + r.status);
    }
    return r.json();
  }

  async function loadImages() {
    const data = await getJSON('/api/v1/images');
    const list = byId('images');
    // Oldest first, each on top: the newest ends up first.
    for (let i = data.images.length - 1; i >= 0; i--) {
      const img = data.images[i];
      if (!state.names.has(img.name)) {
        state.names.add(img.name);
        list.insertBefore(card(img), list.firstChild);
      }
    }
    byId('count').textContent = '(' + data.count + ')';
    byId('empty').hidden = data.count > 0;
    publish();
  }

  function setStatus(st, text) {
    const s = byId('status');
    s.dataset.state = st;
    s.textContent = text;
  }

  async function poll() {
    try {
      const data = await getJSON('/api/v1/events?since=' + state.seq);
      let stored = data.seq < state.seq; // the receiver restarted: look again
      if (stored) {
        state.seq = 0;
      }
      for (const e of data.events) {
        if (e.kind === 'stored') {
          stored = true;
        } else if (e.kind !== 'already-stored') {
          const list = byId('refusals');
          list.insertBefore(refusal(e), list.firstChild);
          state.refusals++;
          byId('no-refusals').hidden = true;
        }
        state.seq = Math.max(state.seq, e.seq);
      }
      state.seq = Math.max(state.seq, data.seq);
      if (stored) {
        await loadImages();
      }
      setStatus('live', 'live');
      document.body.dataset.ready = '1';
      publish();
    } catch (err) {
      setStatus('offline', 'receiver not reachable, retrying');
    }
    setTimeout(poll, POLL_MS);
  }

  async function start() {
    try {
      await loadImages();
    } catch (err) {
      setStatus('offline', 'receiver not reachable, retrying');
    }
    poll();
  }

  start();
})();
