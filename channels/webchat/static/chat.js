/* helpline web chat client: the panel in the widget's frame and the full-page chat.
 *
 * Protocol: docs/webchat-protocol.md. Invariants kept here:
 * - every text from the network is shown with textContent, never parsed as HTML;
 * - a message is "sent" only after the server's ack; until then it stays in a queue kept in
 *   localStorage and is resent with the same client id after a reconnect (the desk stores it once);
 * - on reconnect the client sends the highest message id it shows and the ids of its newest messages;
 *   the server replays what is newer and any recent message it lacks (one that was stored late);
 * - messages are placed by id, whatever order they arrive in, and a message already shown is updated.
 */
(function () {
  'use strict';

  var body = document.body;
  var EMBED = body.getAttribute('data-embed') === '1';
  var MAX_CHARS = parseInt(body.getAttribute('data-max-chars'), 10) || 4000;
  var MAX_BYTES = parseInt(body.getAttribute('data-max-bytes'), 10) || 5 * 1024 * 1024;
  var ACCEPT = (body.getAttribute('data-accept') || '').split(',');
  var IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/gif', 'image/webp'];
  var LOCALE = navigator.language || 'en';
  var PREFIX = 'helpline.webchat.';
  var PING_EVERY = 25000;
  var PONG_WAIT = 10000;
  var HAVE_LIMIT = 100; // the newest message ids listed in hello (the desk looks at its newest 50 for late ones)

  var STRINGS = window.helplineStrings || { en: {} };
  var LANG = STRINGS[LOCALE.slice(0, 2).toLowerCase()] ? LOCALE.slice(0, 2).toLowerCase() : 'en';

  function t(key, values) {
    var text = STRINGS[LANG][key] || STRINGS.en[key] || key;
    Object.keys(values || {}).forEach(function (name) { text = text.replace('{' + name + '}', values[name]); });
    return text;
  }

  // localStorage may be unavailable (blocked third-party storage): fall back to memory for this page.
  var memory = {};
  var store = {
    get: function (key) {
      try { return window.localStorage.getItem(PREFIX + key); } catch (e) { return memory[key] || null; }
    },
    set: function (key, value) {
      try { window.localStorage.setItem(PREFIX + key, value); } catch (e) { memory[key] = value; }
    }
  };
  function storedJson(key, fallback) {
    try { return JSON.parse(store.get(key)) || fallback; } catch (e) { return fallback; }
  }

  var $ = function (id) { return document.getElementById(id); };
  var els = {
    status: $('hl-status'), statusText: $('hl-status-text'), messages: $('hl-messages'), body: $('hl-body'),
    welcome: $('hl-welcome'), typing: $('hl-typing'), notice: $('hl-notice'), composer: $('hl-composer'),
    input: $('hl-input'), send: $('hl-send'), attach: $('hl-attach'), file: $('hl-file'),
    details: $('hl-details'), detailsToggle: $('hl-details-toggle'), name: $('hl-name'), email: $('hl-email'),
    minimize: $('hl-minimize')
  };

  var state = {
    token: store.get('token'),
    lastSeen: 0, // the highest message id shown: the resume point
    lastIncoming: 0, // the highest id of a message from the desk (operator, bot, system)
    reportedSeen: 0,
    lateUnreported: false, // a desk message shown below reportedSeen (it came late): report seen again
    pending: storedJson('pending', []), // [{id, text, name, email, payload}] not acked yet
    socket: null, synced: false, attempt: 0, reconnectTimer: null, pingTimer: null, pongTimer: null,
    choicesFor: 0, // the message whose quick replies are shown
    visible: !EMBED, unread: 0, typingTimer: null, lastTyping: 0, noticeTimer: null,
    blobs: {} // attachment id -> object URL
  };
  var byMessageId = {};
  var byClientId = {};

  // ---------- text helpers ----------

  function clientId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return btoa(String.fromCharCode.apply(null, bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  var URL_RE = /\bhttps?:\/\/[^\s<>"']+/g;

  /* Put text into an element as text nodes, with http(s) links as anchors; never parses HTML. */
  function fillText(el, text) {
    el.textContent = '';
    var last = 0;
    text.replace(URL_RE, function (match, offset) {
      var url = match.replace(/[.,!?;:)\]]+$/, '');
      el.appendChild(document.createTextNode(text.slice(last, offset)));
      var a = document.createElement('a');
      a.href = url;
      a.textContent = url;
      a.target = '_blank';
      a.rel = 'noopener noreferrer nofollow';
      el.appendChild(a);
      last = offset + url.length;
      return match;
    });
    el.appendChild(document.createTextNode(text.slice(last)));
  }

  function formatTime(iso) {
    var date = iso ? new Date(iso) : new Date();
    if (isNaN(date.getTime())) { return ''; }
    var sameDay = date.toDateString() === new Date().toDateString();
    try {
      return new Intl.DateTimeFormat(LOCALE, sameDay ? { hour: '2-digit', minute: '2-digit' }
        : { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' }).format(date);
    } catch (e) { return date.toLocaleTimeString(); }
  }

  function formatSize(bytes) {
    if (bytes < 1024) { return bytes + ' B'; }
    if (bytes < 1024 * 1024) { return Math.round(bytes / 1024) + ' KB'; }
    return (bytes / 1024 / 1024).toFixed(1).replace(/\.0$/, '') + ' MB';
  }

  function showNotice(text, kind, seconds) {
    els.notice.textContent = text;
    els.notice.setAttribute('data-kind', kind || 'info');
    els.notice.hidden = false;
    clearTimeout(state.noticeTimer);
    state.noticeTimer = setTimeout(function () { els.notice.hidden = true; }, (seconds || 6) * 1000);
  }

  function setStatus(name) {
    els.status.setAttribute('data-state', name);
    els.statusText.textContent = t(name);
  }

  // ---------- rendering ----------

  function authorLabel(author, name) {
    if (author === 'operator') { return name || t('support'); }
    if (author === 'bot') { return name || t('assistant'); }
    return '';
  }

  function element(tag, className, text) {
    var el = document.createElement(tag);
    if (className) { el.className = className; }
    if (text !== undefined) { el.textContent = text; }
    return el;
  }

  function createItem(author, authorName) {
    var li = element('li', 'hl-msg');
    li.setAttribute('data-author', author);
    li.setAttribute('data-author-name', authorName || '');
    var label = authorLabel(author, authorName);
    if (label) { li.appendChild(element('span', 'hl-author', label)); }
    li.appendChild(element('div', 'hl-text'));
    li.appendChild(element('div', 'hl-files'));
    var foot = element('div', 'hl-foot');
    foot.appendChild(element('time', 'hl-time'));
    foot.appendChild(element('span', 'hl-state'));
    li.appendChild(foot);
    return li;
  }

  function setItemState(li, name, reason) {
    li.setAttribute('data-state', name);
    var label = li.querySelector('.hl-state');
    label.textContent = name === 'sent' ? '✓' : t(name) + (reason ? ': ' + reason : '');
    label.title = t(name);
  }

  /* Keep stored messages in id order; unsent ones stay below them in the order they were written. */
  function place(li) {
    var id = parseInt(li.getAttribute('data-message-id'), 10);
    var items = els.messages.children;
    var before = null;
    for (var i = 0; i < items.length; i++) {
      var other = items[i];
      if (other === li) { continue; }
      var otherId = parseInt(other.getAttribute('data-message-id'), 10);
      if (isNaN(id) ? false : (isNaN(otherId) || otherId > id)) { before = other; break; }
    }
    if (li.nextSibling !== before || li.parentNode !== els.messages) { els.messages.insertBefore(li, before); }
    regroup();
    els.welcome.hidden = items.length > 0;
  }

  function regroup() {
    var previous = null;
    Array.prototype.forEach.call(els.messages.children, function (li) {
      var same = previous && previous.getAttribute('data-author') === li.getAttribute('data-author') &&
        previous.getAttribute('data-author-name') === li.getAttribute('data-author-name');
      li.classList.toggle('hl-grouped', !!same);
      previous = li;
    });
  }

  function renderFiles(li, attachments) {
    var box = li.querySelector('.hl-files');
    box.textContent = '';
    (attachments || []).forEach(function (file) { box.appendChild(fileView(file)); });
  }

  function fileView(file) {
    var isImage = IMAGE_TYPES.indexOf(file.content_type) >= 0;
    var button = element('button', isImage ? 'hl-file hl-image' : 'hl-file');
    button.type = 'button';
    button.title = t('download') + ': ' + file.filename;
    if (isImage) {
      var img = element('img');
      img.alt = file.filename;
      button.appendChild(img);
      if (file.preview) { img.src = file.preview; } else if (file.id) { fetchBlob(file).then(function (url) { img.src = url; }, function () {}); }
    } else {
      button.appendChild(element('span', 'hl-file-icon', 'PDF'));
      var text = element('span');
      text.appendChild(element('span', 'hl-file-name', file.filename));
      text.appendChild(element('span', 'hl-file-size', formatSize(file.size || 0)));
      button.appendChild(text);
    }
    button.addEventListener('click', function () {
      if (!file.id) { return; }
      fetchBlob(file).then(function (url) {
        var a = document.createElement('a');
        a.href = url;
        a.download = file.filename;
        document.body.appendChild(a);
        a.click();
        a.remove();
      }, function () { showNotice(t('failed'), 'error'); });
    });
    return button;
  }

  /* Attachments are fetched with the token in a header, never a URL, and shown from a blob. */
  function fetchBlob(file) {
    if (state.blobs[file.id]) { return Promise.resolve(state.blobs[file.id]); }
    return fetch('/chat/attachments/' + encodeURIComponent(file.id), {
      headers: { 'X-Visitor-Token': state.token || '' }, credentials: 'omit', cache: 'no-store'
    }).then(function (response) {
      if (!response.ok) { throw new Error('download failed: ' + response.status); }
      return response.blob();
    }).then(function (blob) {
      var type = IMAGE_TYPES.indexOf(file.content_type) >= 0 || file.content_type === 'application/pdf' ? file.content_type : 'application/octet-stream';
      state.blobs[file.id] = URL.createObjectURL(new Blob([blob], { type: type }));
      return state.blobs[file.id];
    });
  }

  /* Quick replies belong to the latest message only: a newer message (the visitor's answer, a
   * reply, the replay after a reload) removes them. */
  function renderChoices(li, choices) {
    Array.prototype.forEach.call(els.messages.querySelectorAll('.hl-choices'), function (old) { old.remove(); });
    state.choicesFor = 0;
    if (!choices || !choices.length) { return; }
    state.choicesFor = parseInt(li.getAttribute('data-message-id'), 10) || 0;
    var box = element('div', 'hl-choices');
    choices.forEach(function (choice) {
      var button = element('button', 'hl-choice', choice);
      button.type = 'button';
      button.addEventListener('click', function () { box.remove(); queueMessage(choice, choice); });
      box.appendChild(button);
    });
    li.appendChild(box);
  }

  /* The ids of the newest messages shown, newest first: with them the desk can tell which recent
   * message never reached this page (it committed after a newer one was shown). */
  function shownIds() {
    return Object.keys(byMessageId).map(Number).sort(function (a, b) { return b - a; }).slice(0, HAVE_LIMIT);
  }

  /* A stored message from the server: new, or the stored form of one shown optimistically. A late
   * one (older than a message shown already) is placed by its id and leaves the quick replies alone. */
  function showMessage(frame) {
    var late = frame.message_id < state.lastSeen;
    var isNew = !byMessageId[frame.message_id];
    var li = byMessageId[frame.message_id] || (frame.client_id && byClientId[frame.client_id]);
    if (!li) {
      li = createItem(frame.author, frame.author_name);
    }
    li.setAttribute('data-message-id', String(frame.message_id));
    byMessageId[frame.message_id] = li;
    if (frame.client_id) {
      li.setAttribute('data-client-id', frame.client_id);
      byClientId[frame.client_id] = li;
      forget(frame.client_id);
    }
    fillText(li.querySelector('.hl-text'), frame.text || '');
    if ((frame.attachments || []).length) { renderFiles(li, frame.attachments); }
    var time = li.querySelector('.hl-time');
    time.textContent = formatTime(frame.created_at);
    time.dateTime = frame.created_at || '';
    if (frame.author === 'client') { setItemState(li, 'sent'); }
    if (frame.choices && frame.choices.length && !late) {
      renderChoices(li, frame.choices);
    } else if (state.choicesFor && frame.message_id > state.choicesFor) {
      renderChoices(li, null); // quick replies belong to the latest message only
    }
    place(li);
    state.lastSeen = Math.max(state.lastSeen, frame.message_id);
    if (frame.author !== 'client') {
      els.typing.hidden = true;
      state.lastIncoming = Math.max(state.lastIncoming, frame.message_id);
      var unreported = frame.message_id > state.reportedSeen || isNew;
      if (isNew && frame.message_id <= state.reportedSeen) { state.lateUnreported = true; }
      if (!isVisible() && unreported) { state.unread += 1; tellParent({ type: 'unread', count: state.unread }); }
    }
  }

  function scrollToEnd() { els.body.scrollTop = els.body.scrollHeight; }

  // ---------- the unsent queue ----------

  function savePending() { store.set('pending', JSON.stringify(state.pending)); }

  function forget(id) {
    var before = state.pending.length;
    state.pending = state.pending.filter(function (item) { return item.id !== id; });
    if (state.pending.length !== before) { savePending(); }
  }

  function showPending(item) {
    var li = createItem('client', '');
    li.setAttribute('data-client-id', item.id);
    byClientId[item.id] = li;
    fillText(li.querySelector('.hl-text'), item.text);
    li.querySelector('.hl-time').textContent = formatTime(null);
    setItemState(li, state.synced ? 'sending' : 'queued');
    place(li);
    return li;
  }

  function identity() {
    var details = storedJson('details', {});
    return { name: details.name || '', email: details.email || '' };
  }

  function queueMessage(text, payload) {
    var who = identity();
    var item = { id: clientId(), text: text, name: who.name, email: who.email, payload: payload || '' };
    state.pending.push(item);
    savePending();
    showPending(item);
    scrollToEnd();
    transmit(item);
  }

  function transmit(item) {
    if (!state.synced) { return; }
    var frame = { type: 'message', id: item.id, text: item.text };
    if (item.name) { frame.name = item.name; }
    if (item.email) { frame.email = item.email; }
    if (item.payload) { frame.payload = item.payload; }
    var li = byClientId[item.id];
    if (li && li.getAttribute('data-state') !== 'sent') { setItemState(li, 'sending'); }
    sendFrame(frame);
  }

  function flushPending() { state.pending.slice().forEach(transmit); }

  function failed(id, reason) {
    forget(id);
    var li = byClientId[id];
    if (li) { setItemState(li, 'failed', reason); }
  }

  // ---------- the socket ----------

  function sendFrame(frame) {
    if (state.socket && state.socket.readyState === WebSocket.OPEN) { state.socket.send(JSON.stringify(frame)); }
  }

  function connect() {
    clearTimeout(state.reconnectTimer);
    if (state.socket) { return; }
    setStatus(state.attempt ? 'reconnecting' : 'connecting');
    var socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/chat/ws');
    state.socket = socket;
    socket.onopen = function () {
      socket.send(JSON.stringify({ type: 'hello', token: state.token, last_seen: state.lastSeen, have: shownIds(), locale: LOCALE }));
    };
    socket.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (socket === state.socket) { handle(frame); }
    };
    socket.onclose = function () {
      if (socket !== state.socket) { return; }
      state.socket = null;
      state.synced = false;
      clearInterval(state.pingTimer);
      clearTimeout(state.pongTimer);
      setStatus(navigator.onLine === false ? 'offline' : 'reconnecting');
      markQueued();
      scheduleReconnect();
    };
  }

  function markQueued() {
    state.pending.forEach(function (item) {
      var li = byClientId[item.id];
      if (li && li.getAttribute('data-state') === 'sending') { setItemState(li, 'queued'); }
    });
  }

  /* Exponential back-off with jitter, from half a second up to half a minute. */
  function scheduleReconnect() {
    var delay = Math.min(30000, 500 * Math.pow(2, state.attempt)) * (0.75 + Math.random() * 0.5);
    state.attempt += 1;
    clearTimeout(state.reconnectTimer);
    state.reconnectTimer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (!state.socket) { state.attempt = Math.min(state.attempt, 1); connect(); }
  }

  function keepAlive() {
    clearInterval(state.pingTimer);
    state.pingTimer = setInterval(function () {
      sendFrame({ type: 'ping' });
      clearTimeout(state.pongTimer);
      // No pong: the connection is dead without having said so (sleep, network switch).
      state.pongTimer = setTimeout(function () { if (state.socket) { state.socket.close(); } }, PONG_WAIT);
    }, PING_EVERY);
  }

  function handle(frame) {
    switch (frame.type) {
      case 'welcome':
        state.token = frame.token;
        store.set('token', frame.token);
        if (frame.limits && frame.limits.max_message_chars) { MAX_CHARS = frame.limits.max_message_chars; els.input.maxLength = MAX_CHARS; }
        if (frame.limits && frame.limits.max_attachment_bytes) { MAX_BYTES = frame.limits.max_attachment_bytes; }
        break;
      case 'message':
        showMessage(frame);
        if (state.synced) { scrollToEnd(); reportSeen(); }
        break;
      case 'synced':
        state.synced = true;
        state.attempt = 0;
        setStatus('online');
        keepAlive();
        scrollToEnd();
        flushPending();
        reportSeen();
        break;
      case 'ack':
        var li = byClientId[frame.id];
        forget(frame.id);
        if (li) {
          li.setAttribute('data-message-id', String(frame.message_id));
          byMessageId[frame.message_id] = li;
          setItemState(li, 'sent');
          place(li);
        }
        state.lastSeen = Math.max(state.lastSeen, frame.message_id);
        break;
      case 'typing':
        els.typing.hidden = false;
        clearTimeout(state.typingTimer);
        state.typingTimer = setTimeout(function () { els.typing.hidden = true; }, 6000);
        if (isNearEnd()) { scrollToEnd(); }
        break;
      case 'pong':
        clearTimeout(state.pongTimer);
        break;
      case 'error':
        handleError(frame);
        break;
    }
  }

  function handleError(frame) {
    var transient = frame.code === 'rate_limited' || frame.code === 'unavailable' || frame.code === 'internal_error';
    if (frame.id && transient) {
      var seconds = frame.retry_after || 5;
      if (frame.code === 'rate_limited') { showNotice(t('slowDown', { s: seconds }), 'info', seconds); }
      setTimeout(function () {
        var item = state.pending.filter(function (p) { return p.id === frame.id; })[0];
        if (item) { transmit(item); }
      }, seconds * 1000);
    } else if (frame.id) {
      failed(frame.id, frame.message);
    } else {
      showNotice(frame.message, 'error');
    }
  }

  function isNearEnd() { return els.body.scrollHeight - els.body.scrollTop - els.body.clientHeight < 80; }

  // ---------- seen, visibility and the host page ----------

  function isVisible() { return state.visible && document.visibilityState === 'visible'; }

  /* The desk marks "delivered" only the messages this page's sockets carried and that are at or below
   * up_to, so a late one shown below the last report needs the same up_to sent once more. */
  function reportSeen() {
    if (!isVisible() || !state.synced) { return; }
    if (state.lastIncoming <= state.reportedSeen && !state.lateUnreported) { return; }
    state.reportedSeen = state.lastIncoming;
    state.lateUnreported = false;
    state.unread = 0;
    tellParent({ type: 'unread', count: 0 });
    sendFrame({ type: 'seen', up_to: state.lastIncoming });
  }

  function tellParent(message) {
    if (EMBED && window.parent !== window) {
      message.helpline = 1;
      window.parent.postMessage(message, '*'); // carries no secrets: a count or a request to close
    }
  }

  window.addEventListener('message', function (event) {
    var data = event.data;
    if (!EMBED || event.source !== window.parent || !data || data.helpline !== 1) { return; }
    if (data.type === 'visibility') {
      state.visible = !!data.open;
      if (state.visible) {
        scrollToEnd();
        reportSeen();
        if (window.matchMedia && window.matchMedia('(pointer: fine)').matches) { els.input.focus(); }
      }
    }
  });

  document.addEventListener('visibilitychange', function () {
    if (document.visibilityState === 'visible') { reconnectNow(); reportSeen(); }
  });
  window.addEventListener('online', reconnectNow);
  window.addEventListener('offline', function () { if (!state.socket) { setStatus('offline'); } });

  // ---------- uploads ----------

  function uploadFile(file) {
    if (ACCEPT.indexOf(file.type) < 0) { showNotice(t('badType'), 'error'); return; }
    if (file.size > MAX_BYTES) { showNotice(t('tooBig', { size: formatSize(MAX_BYTES) }), 'error'); return; }
    var id = clientId();
    var li = createItem('client', '');
    li.setAttribute('data-client-id', id);
    byClientId[id] = li;
    var preview = IMAGE_TYPES.indexOf(file.type) >= 0 ? URL.createObjectURL(file) : null;
    renderFiles(li, [{ filename: file.name, content_type: file.type, size: file.size, preview: preview }]);
    li.querySelector('.hl-time').textContent = formatTime(null);
    setItemState(li, 'uploading');
    place(li);
    scrollToEnd();
    postUpload(id, file, li);
  }

  function postUpload(id, file, li) {
    var form = new FormData();
    var who = identity();
    form.append('id', id);
    form.append('text', '');
    if (who.name) { form.append('name', who.name); }
    if (who.email) { form.append('email', who.email); }
    form.append('locale', LOCALE);
    form.append('file', file, file.name);
    var send = function () {
      return fetch('/chat/upload', { method: 'POST', body: form, credentials: 'omit', headers: { 'X-Visitor-Token': state.token } });
    };
    var ready = state.token ? Promise.resolve() : new Promise(function (resolve) {
      var wait = setInterval(function () { if (state.token) { clearInterval(wait); resolve(); } }, 200);
    });
    ready.then(send).then(function (response) {
      return response.json().then(function (frame) { return { ok: response.ok, frame: frame }; });
    }).then(function (result) {
      if (result.ok) { handle(result.frame); return; }
      setItemState(li, 'failed', result.frame.message);
    }, function () {
      setItemState(li, 'failed');
      var retry = element('button', 'hl-retry', t('retry'));
      retry.type = 'button';
      retry.addEventListener('click', function () { retry.remove(); setItemState(li, 'uploading'); postUpload(id, file, li); });
      li.querySelector('.hl-foot').appendChild(retry);
    });
  }

  // ---------- the composer ----------

  function submit() {
    var text = els.input.value.replace(/\r\n?/g, '\n').trim();
    if (!text) { return; }
    if (text.length > MAX_CHARS) { showNotice(t('tooLong', { n: MAX_CHARS }), 'error'); return; }
    els.input.value = '';
    autosize();
    queueMessage(text, '');
    els.input.focus();
  }

  function autosize() {
    els.input.style.height = 'auto';
    els.input.style.height = Math.min(els.input.scrollHeight + 2, 140) + 'px';
    els.send.disabled = !els.input.value.trim();
  }

  els.composer.addEventListener('submit', function (event) { event.preventDefault(); submit(); });
  els.input.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) { event.preventDefault(); submit(); }
    if (event.key === 'Escape' && EMBED) { tellParent({ type: 'close' }); }
  });
  els.input.addEventListener('input', function () {
    autosize();
    var now = Date.now();
    if (state.synced && els.input.value.trim() && now - state.lastTyping > 3000) {
      state.lastTyping = now;
      sendFrame({ type: 'typing' });
    }
  });
  els.attach.addEventListener('click', function () { els.file.click(); });
  els.file.addEventListener('change', function () {
    Array.prototype.forEach.call(els.file.files, uploadFile);
    els.file.value = '';
  });
  if (els.minimize) { els.minimize.addEventListener('click', function () { tellParent({ type: 'close' }); }); }

  els.detailsToggle.addEventListener('click', function () {
    var open = els.details.hidden;
    els.details.hidden = !open;
    els.detailsToggle.setAttribute('aria-expanded', String(open));
    if (open) { els.name.focus(); }
  });
  els.details.addEventListener('submit', function (event) {
    event.preventDefault();
    if (!els.email.checkValidity()) { els.email.reportValidity(); return; }
    store.set('details', JSON.stringify({ name: els.name.value.trim(), email: els.email.value.trim() }));
    els.details.hidden = true;
    els.detailsToggle.setAttribute('aria-expanded', 'false');
    showNotice(t('saved'), 'info', 4);
  });

  // ---------- start ----------

  function translatePage() {
    document.documentElement.lang = LANG;
    Array.prototype.forEach.call(document.querySelectorAll('[data-i18n]'), function (el) { el.textContent = t(el.getAttribute('data-i18n')); });
    Array.prototype.forEach.call(document.querySelectorAll('[data-i18n-title]'), function (el) { el.title = t(el.getAttribute('data-i18n-title')); });
    Array.prototype.forEach.call(document.querySelectorAll('[data-i18n-placeholder]'), function (el) { el.placeholder = t(el.getAttribute('data-i18n-placeholder')); });
  }

  var accent = new URLSearchParams(location.search).get('accent');
  if (accent && /^[0-9a-fA-F]{6}$/.test(accent)) { document.documentElement.style.setProperty('--hl-accent', '#' + accent); }
  translatePage();
  var details = identity();
  els.name.value = details.name;
  els.email.value = details.email;
  els.input.maxLength = MAX_CHARS;
  autosize();
  state.pending.forEach(showPending);
  tellParent({ type: 'ready' });
  connect();
})();
