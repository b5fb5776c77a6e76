/* helpline operator console: live updates over one websocket, canned responses, typing notices.
   Everything from the server is rendered with textContent/createElement, never as HTML. */
(function () {
  "use strict";

  var list = document.getElementById("ticket-list");
  var ticketPage = document.getElementById("ticket");
  var ticketNumber = ticketPage ? Number(ticketPage.dataset.number) : null;
  var followUps = document.getElementById("follow-ups");  // the Follow-ups page
  var ACTIVE = ["new", "open", "waiting"];
  var AUTHORS = { client: "Client", bot: "Bot", system: "System", operator: "Operator" };  // unnamed authors
  var REASONS = { low_score: "low score", complaint_words: "complaint words" };  // why a follow-up was opened
  var socket = null;
  var listedAt = list ? list.dataset.at : null;  // server time of what the list shows
  var retryMs = 1000;
  var TEXTS = readTexts();  // the page's language, from the JSON the server puts in <body data-texts>

  function readTexts() {
    try { return JSON.parse(document.body.dataset.texts || "{}"); } catch (e) { return {}; }
  }

  function say(text) {
    return Object.prototype.hasOwnProperty.call(TEXTS, text) ? TEXTS[text] : text;
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  }

  function setLive(on) {
    var badge = document.getElementById("live-state");
    if (!badge) return;
    badge.textContent = on ? say("live") : say("offline");
    badge.classList.toggle("on", on);
  }

  /* ---- the ticket list ---- */

  function rowMatches(ticket, mine) {
    var f = list.dataset;
    if (f.scope === "mine" && !mine) return false;
    if (f.queue && f.queue !== ticket.queue) return false;
    if (f.status === "active") return ACTIVE.indexOf(ticket.status) >= 0;
    return f.status === "all" || f.status === ticket.status;
  }

  function findRow(number) {
    return list.querySelector('.ticket-row[data-number="' + Number(number) + '"]');
  }

  function buildRow(t) {
    var href = "/console/tickets/" + Number(t.number);
    var tr = el("tr", "ticket-row fresh");
    tr.dataset.number = String(Number(t.number));
    tr.dataset.last = t.last_iso;
    tr.dataset.href = href;
    var num = el("td", "num");
    var link = el("a", null, "#" + Number(t.number));
    link.href = href;
    num.appendChild(link);
    tr.appendChild(num);
    var subject = el("td", "subject", t.subject || say("(no subject)"));
    subject.title = t.subject;
    tr.appendChild(subject);
    tr.appendChild(el("td", "client", t.client || say("Client")));
    var channel = el("td");
    channel.appendChild(el("span", "channel", t.channel));
    tr.appendChild(channel);
    var status = el("td");
    status.appendChild(el("span", "status status-" + t.status, say(t.status)));
    tr.appendChild(status);
    tr.appendChild(el("td", null, t.queue));
    tr.appendChild(el("td", "assignee", t.assignee || say("unassigned")));
    tr.appendChild(el("td", "when", t.last));
    return tr;
  }

  function refreshEmpty() {
    var empty = document.getElementById("empty");
    if (empty) empty.hidden = list.querySelector(".ticket-row") !== null;
  }

  function upsertRow(t, mine) {
    var old = findRow(t.number);
    if (old) old.remove();
    if (rowMatches(t, mine)) {
      var row = buildRow(t);
      var body = list.tBodies[0];
      var before = null;
      for (var i = 0; i < body.rows.length; i++) {
        if (body.rows[i].dataset.last < t.last_iso) { before = body.rows[i]; break; }
      }
      body.insertBefore(row, before);
    }
    refreshEmpty();
  }

  function removeRow(number) {
    var old = findRow(number);
    if (old) old.remove();
    refreshEmpty();
  }

  /* ---- the ticket page ---- */

  var timeline = document.getElementById("timeline");

  function nearBottom() {
    return timeline.scrollHeight - timeline.scrollTop - timeline.clientHeight < 120;
  }

  function toBottom() {
    timeline.scrollTop = timeline.scrollHeight;
  }

  function deliveryText(status, error) {
    return error ? status + ": " + error : status;
  }

  function messageNode(m) {
    var li = el("li", "msg msg-" + m.author + (m.outbound ? " out" : " in"));
    li.dataset.id = String(Number(m.id));
    li.dataset.author = m.author;
    var meta = el("div", "meta");
    meta.appendChild(el("span", "author", m.author_name || say(AUTHORS[m.author] || m.author)));
    meta.appendChild(el("span", "channel", m.channel));
    meta.appendChild(el("time", null, m.at));
    li.appendChild(meta);
    li.appendChild(el("div", "text", m.text));
    if (m.automated) meta.appendChild(el("span", "badge warn", say("auto-reply")));
    if (m.edited) meta.appendChild(el("span", "badge edited", say("edited")));
    if (m.folded) {
      var folded = el("details", "folded");
      folded.appendChild(el("summary", null, say("Quoted text and signature")));
      folded.appendChild(el("div", "text", m.folded));
      li.appendChild(folded);
    }
    if (m.original) {
      var original = el("a", "original small", say("View original"));
      original.href = "/console/messages/" + Number(m.id) + "/original";
      li.appendChild(original);
    }
    if (m.attachments && m.attachments.length) {
      var files = el("ul", "files");
      m.attachments.forEach(function (a) {
        var item = el("li");
        var link = el("a", null, a.name);
        link.href = "/console/attachments/" + Number(a.id);
        link.setAttribute("download", "");
        item.appendChild(link);
        item.appendChild(el("span", "muted", " " + (a.size / 1024).toFixed(1) + " KB"));
        files.appendChild(item);
      });
      li.appendChild(files);
    }
    if (m.outbound) {
      var d = el("span", "delivery", deliveryText(m.delivery, m.error));
      d.dataset.status = m.delivery;
      li.appendChild(d);
    }
    return li;
  }

  function noteNode(n) {
    var li = el("li", "note");
    li.dataset.id = String(Number(n.id));
    var meta = el("div", "meta");
    meta.appendChild(el("span", "label", say("Internal note") + " · " + say("never sent to the client")));
    meta.appendChild(el("span", "author", n.author_name || say("Operator")));
    meta.appendChild(el("time", null, n.at));
    li.appendChild(meta);
    li.appendChild(el("div", "text", n.text));
    return li;
  }

  function append(node, selector) {
    if (timeline.querySelector(selector)) return;
    var stick = nearBottom();
    timeline.appendChild(node);
    if (stick) toBottom();
  }

  // Frames and catch-up reads can cross: a status never moves back (queued < sent, failed < delivered).
  var RANK = { queued: 0, sent: 1, failed: 1, delivered: 2 };

  function setDelivery(messageId, status, error) {
    var d = timeline.querySelector('.msg[data-id="' + Number(messageId) + '"] .delivery');
    if (!d || (RANK[status] || 0) < (RANK[d.dataset.status] || 0)) return;
    d.textContent = deliveryText(status, error);
    d.dataset.status = status;
  }

  function lastMessageId() {
    var max = 0;
    timeline.querySelectorAll(".msg").forEach(function (m) { max = Math.max(max, Number(m.dataset.id) || 0); });
    return max;
  }

  var typingTimer = null;
  function showTyping(frame) {
    var line = document.getElementById("typing");
    if (!line) return;
    line.textContent = frame.who === "client" ? say("The client is typing…") : say("{name} is typing…").replace("{name}", frame.name || say("An operator"));
    line.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(function () { line.hidden = true; }, 5000);
  }

  function updateTicket(t) {
    var status = document.getElementById("ticket-status");
    if (status) { status.textContent = say(t.status); status.className = "status status-" + t.status; }
    document.querySelectorAll(".when-active").forEach(function (f) { f.hidden = ACTIVE.indexOf(t.status) < 0; });
    document.querySelectorAll(".when-resolved").forEach(function (f) { f.hidden = t.status !== "resolved"; });
    var fields = { "ticket-queue": t.queue, "ticket-assignee": t.assignee || say("unassigned"), "ticket-last": t.last };
    Object.keys(fields).forEach(function (id) {
      var node = document.getElementById(id);
      if (node) node.textContent = fields[id];
    });
  }

  /* ---- frames ---- */

  function handle(f) {
    var here = ticketPage && Number(f.ticket) === ticketNumber;
    if (f.type === "listed") {
      listedAt = f.at;
    } else if (f.type === "ticket") {
      if (list) upsertRow(f.ticket, f.mine);
      if (ticketPage && Number(f.ticket.number) === ticketNumber) updateTicket(f.ticket);
    } else if (f.type === "gone") {
      if (list) removeRow(f.ticket);
      if (here) document.getElementById("ticket-gone").hidden = false;
    } else if (f.type === "message" && here) {
      setTypingHidden();
      append(messageNode(f.message), '.msg[data-id="' + Number(f.message.id) + '"]');
      if (f.message.outbound) setDelivery(f.message.id, f.message.delivery, f.message.error);
    } else if (f.type === "edited" && here) {
      var old = timeline.querySelector('.msg[data-id="' + Number(f.message.id) + '"]');
      if (old) old.replaceWith(messageNode(f.message));
      else append(messageNode(f.message), '.msg[data-id="' + Number(f.message.id) + '"]');
    } else if (f.type === "delivery" && here) {
      setDelivery(f.message_id, f.status, f.error);
    } else if (f.type === "note" && here) {
      append(noteNode(f.note), '.note[data-id="' + Number(f.note.id) + '"]');
    } else if (f.type === "typing" && here) {
      showTyping(f);
    } else if (f.type === "follow_up" && f.follow_up) {
      showFollowUp(f.follow_up);
    }
  }

  /* ---- follow-ups: the server sends them only to the queue's supervisors and the managers ---- */

  function showFollowUp(u) {
    var nav = document.querySelector('a[href="/console/follow-ups"]');
    if (nav) {
      var count = nav.querySelector(".live-count");
      if (!count) {
        nav.appendChild(document.createTextNode(" "));
        count = nav.appendChild(el("span", "badge bad live-count", 0));
      }
      count.textContent = String((Number(count.textContent) || 0) + 1);
    }
    var shown = new URLSearchParams(location.search).get("status") || "open";
    if (!followUps || shown === "done" || followUps.querySelector('.follow-up[data-id="' + Number(u.id) + '"]')) return;
    var empty = followUps.querySelector("li.muted");
    if (empty) empty.remove();
    var item = el("li", "card follow-up fresh");
    item.dataset.id = String(Number(u.id));
    var meta = el("div", "meta");
    var link = el("a", null, "#" + Number(u.ticket));
    link.href = "/console/tickets/" + Number(u.ticket);
    meta.appendChild(link);
    meta.appendChild(document.createTextNode(" " + [u.subject, u.queue, u.created].join(" · ") + " "));
    String(u.reason || "").split("+").forEach(function (r) {
      meta.appendChild(el("span", "badge " + (r === "low_score" ? "bad" : "warn"), say(REASONS[r] || r)));
      meta.appendChild(document.createTextNode(" "));
    });
    if (u.score) meta.appendChild(el("span", "score-chip score-" + Number(u.score), Number(u.score) + "/5"));
    item.appendChild(meta);
    var scored = say("score {score}").replace("{score}", Number(u.score));
    item.appendChild(el("p", "text", u.scored ? scored + (u.comment ? ": " + u.comment : "") : u.detail));
    item.appendChild(el("p", "muted small", say("New: open the ticket, or reload to close it here.")));
    followUps.insertBefore(item, followUps.firstChild);
  }

  function setTypingHidden() {
    var line = document.getElementById("typing");
    if (line) line.hidden = true;
  }

  function hello() {
    if (list) {
      var numbers = [];
      list.querySelectorAll(".ticket-row").forEach(function (r) { numbers.push(Number(r.dataset.number)); });
      send({ type: "list", tickets: numbers, since: listedAt });
    }
    if (ticketPage) send({ type: "watch", ticket: ticketNumber, after: lastMessageId() });
  }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss:" : "ws:";
    socket = new WebSocket(scheme + "//" + location.host + "/console/ws");
    socket.onopen = function () { retryMs = 1000; setLive(true); hello(); };
    socket.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame && typeof frame.type === "string") handle(frame);
    };
    socket.onclose = function (event) {
      setLive(false);
      if (event.code === 4401) {
        location.href = "/console/login?next=" + encodeURIComponent(location.pathname);
        return;
      }
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    };
  }

  /* ---- page behaviour ---- */

  // The language switcher saves on choosing; its button stays for browsers without scripts.
  var switcher = document.getElementById("language-switch");
  if (switcher) {
    switcher.querySelector("select").addEventListener("change", function () { switcher.submit(); });
    var save = document.getElementById("language-save");
    if (save) save.hidden = true;
  }

  document.addEventListener("click", function (event) {
    var row = event.target.closest(".ticket-row");
    if (row && !event.target.closest("a") && row.dataset.href) location.href = row.dataset.href;
    var canned = event.target.closest(".canned-btn");
    if (canned) insertCanned(canned.dataset.text || "");
  });

  function insertCanned(text) {
    var box = document.getElementById("reply-text");
    if (!box) return;
    var start = box.selectionStart, end = box.selectionEnd;
    box.value = box.value.slice(0, start) + text + box.value.slice(end);
    box.focus();
    box.selectionStart = box.selectionEnd = start + text.length;
  }

  var filters = document.getElementById("filters");
  if (filters) {
    filters.addEventListener("change", function () { filters.submit(); });
  }

  var replyBox = document.getElementById("reply-text");
  var lastTyping = 0;
  if (replyBox && ticketPage) {
    replyBox.addEventListener("input", function () {
      var now = Date.now();
      if (now - lastTyping < 3000) return;
      lastTyping = now;
      send({ type: "typing", ticket: ticketNumber });
    });
  }

  if (timeline) toBottom();
  if (list || ticketPage || followUps) connect();
})();
