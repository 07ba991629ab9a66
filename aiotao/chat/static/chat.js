// The chat page: one room over a websocket, speaking aiotao.chat's JSON protocol.
//
// Everything people typed is put on the page with textContent, never
// innerHTML: a message "<img src=x onerror=...>" shows as those characters.
// The socket reconnects by itself (backoff from 0.5 s to 10 s, jittered);
// on each (re)join the server sends the recent history again, and messages
// already shown are skipped by their id.
//
// Nothing typed is lost: messages wait in an outbox and go out at the rate
// the server allows (its welcome says how many per second, and how many at
// once); one the server refuses as too fast, or that was not acknowledged
// when the connection dropped, goes back to the head of the outbox.  A
// message over the length limit is not cut: the counter says by how much,
// and Send waits until it fits.  A new nickname is checked by the server
// (it says why one is refused) and then kept in the session (a POST to
// data-nickname-url with the CSRF token), so that it survives a reload.
(function () {
  'use strict';
  var root = document.getElementById('chat');
  var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  var url = scheme + location.host + root.dataset.socketUrl;
  var messages = document.getElementById('messages');
  var members = document.getElementById('members');
  var status = document.getElementById('status');
  var nick = document.getElementById('nick');
  var errors = document.getElementById('errors');
  var form = document.getElementById('say');
  var input = document.getElementById('text');
  var send = form.querySelector('button');
  // optional: pages written for an older chat.js lack them
  var counter = document.getElementById('counter');
  var outboxShown = document.getElementById('outbox');
  var nickForm = document.getElementById('nick-form');
  var nickInput = document.getElementById('nick-input');

  var MIN_DELAY = 500;
  var MAX_DELAY = 10000;
  var delay = MIN_DELAY;
  var socket = null;
  var nextId = 1;
  var shown = new Set();     // ids of the messages on the page
  var pending = new Map();   // say id -> text, until the server stored it
  var outbox = [];           // texts waiting for their turn, oldest first
  var maxLength = Number(input.dataset.maxLength || 500);
  var rate = 2;              // messages per second, from the welcome
  var burst = 5;             // messages at once, from the welcome
  var tokens = 0;
  var refilled = performance.now();
  var flushTimer = null;
  var renaming = new Map();  // nick id -> the name asked for

  function span(className, text) {
    var element = document.createElement('span');
    element.className = className;
    element.textContent = text;
    return element;
  }

  function append(item) {
    var atBottom = messages.scrollTop + messages.clientHeight >= messages.scrollHeight - 4;
    messages.appendChild(item);
    if (atBottom) { messages.scrollTop = messages.scrollHeight; }
  }

  function time(at) {
    var date = new Date(at);
    return isNaN(date) ? '' : date.toLocaleTimeString([], {hour: '2-digit', minute: '2-digit'});
  }

  function showMessage(message) {
    if (shown.has(message.id)) { return; }  // history and live messages overlap
    shown.add(message.id);
    var item = document.createElement('li');
    item.className = 'message';
    item.dataset.id = message.id;
    item.appendChild(span('at', time(message.at)));
    item.appendChild(span('nick', message.nick));
    item.appendChild(span('text', message.text));
    append(item);
  }

  function showEvent(text) {
    var item = document.createElement('li');
    item.className = 'event';
    item.textContent = text;
    append(item);
  }

  function showMembers(names) {
    members.replaceChildren();
    names.forEach(function (name) {
      var item = document.createElement('li');
      item.textContent = name;
      members.appendChild(item);
    });
  }

  function showError(text) {
    errors.textContent = text;
  }

  function setStatus(state, text) {
    root.dataset.state = state;
    status.textContent = text;
  }

  function setNick(name) {
    nick.textContent = name;
    if (nickInput && document.activeElement !== nickInput) { nickInput.value = name; }
  }

  // -- the counter ------------------------------------------------------------

  function updateCounter() {
    var length = input.value.trim().length;
    var over = length - maxLength;
    if (counter) {
      counter.textContent = over > 0
        ? length + ' / ' + maxLength + ': ' + over + ' too many'
        : length + ' / ' + maxLength;
      counter.classList.toggle('over', over > 0);
    }
    send.disabled = over > 0;
  }

  // -- the outbox -------------------------------------------------------------

  function showOutbox() {
    if (!outboxShown) { return; }
    var waiting = outbox.length;
    outboxShown.textContent = waiting ? waiting + (waiting === 1 ? ' message waits' : ' messages wait') + ' to go out' : '';
  }

  function refill() {
    var now = performance.now();
    tokens = Math.min(burst, tokens + (now - refilled) / 1000 * rate);
    refilled = now;
  }

  function flush() {
    flushTimer = null;
    if (!socket || socket.readyState !== WebSocket.OPEN) { showOutbox(); return; }
    refill();
    while (outbox.length && tokens >= 1) {
      tokens -= 1;
      var text = outbox.shift();
      var id = nextId++;
      pending.set(id, text);
      socket.send(JSON.stringify({type: 'say', id: id, text: text}));
    }
    showOutbox();
    if (outbox.length) { later((1 - tokens) / rate * 1000); }
  }

  function later(ms) {
    if (flushTimer === null) { flushTimer = setTimeout(flush, Math.max(ms, 20)); }
  }

  function putBack(text) {
    outbox.unshift(text);
    showOutbox();
  }

  // -- the protocol -----------------------------------------------------------

  var handlers = {
    welcome: function (message) {
      setNick(message.nick);
      maxLength = message.max_length;
      if (message.rate) { rate = message.rate; }
      if (message.burst) { burst = message.burst; }
      tokens = burst;
      refilled = performance.now();
      if (message.worker) { root.dataset.worker = message.worker; }
      if (nickForm) { nickForm.hidden = !!message.signed_in; }
      if (message.notice) { showEvent(message.notice); }
      updateCounter();
      flush();
    },
    history: function (message) { message.messages.forEach(showMessage); },
    message: showMessage,
    members: function (message) { showMembers(message.members); },
    joined: function (message) { showEvent(message.nick + ' joined'); },
    left: function (message) { showEvent(message.nick + ' left'); },
    renamed: function (message) {
      if (message.old === nick.textContent) { setNick(message.nick); }
      showEvent(message.old + ' is now ' + message.nick);
    },
    reply: function (message) {
      if (pending.delete(message.id)) { showError(''); return; }
      if (renaming.has(message.id)) {
        renaming.delete(message.id);
        setNick(message.data.nick);
        keepNick(message.data.nick);
        showError('');
      }
    },
    error: function (message) {
      var text = pending.get(message.id);
      if (text !== undefined) {
        pending.delete(message.id);
        if (message.code === 'rate_limited') {
          // too fast after all (another tab shares nothing with this one):
          // it goes again, first, once the server allows
          putBack(text);
          tokens = 0;
          refilled = performance.now();
          later(1000 / rate);
          return;
        }
        if (!input.value) { input.value = text; updateCounter(); }  // not stored: let them resend
      }
      if (renaming.has(message.id)) {
        renaming.delete(message.id);
        if (nickInput) { nickInput.focus(); }
      }
      if (message.nick) { setNick(message.nick); }
      showError(message.message);
    }
  };

  function keepNick(name) {
    // the websocket accepted it; the session keeps it for the next page
    var keepUrl = root.dataset.nicknameUrl;
    if (!keepUrl) { return; }
    var headers = {'Content-Type': 'application/json'};
    if (root.dataset.csrfToken) { headers['X-CSRF-Token'] = root.dataset.csrfToken; }
    fetch(keepUrl, {method: 'POST', headers: headers, credentials: 'same-origin',
                    body: JSON.stringify({nick: name})})
      .then(function (response) {
        if (!response.ok) { showError('your name is kept for this visit only'); }
      })
      .catch(function () { showError('your name is kept for this visit only'); });
  }

  function connect() {
    setStatus('connecting', 'connecting\u2026');
    socket = new WebSocket(url);
    socket.onopen = function () {
      delay = MIN_DELAY;
      setStatus('open', 'connected');
      showError('');
    };
    socket.onmessage = function (event) {
      var message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      var handle = handlers[message.type];
      if (handle) { handle(message); }
    };
    socket.onclose = function (event) {
      socket = null;
      // not acknowledged: maybe not stored; they go again, in their order
      var unsent = Array.from(pending.values());
      pending.clear();
      renaming.clear();
      outbox = unsent.concat(outbox);
      showOutbox();
      var wait = delay / 2 + Math.random() * delay / 2;
      delay = Math.min(delay * 2, MAX_DELAY);
      setStatus('closed', 'disconnected (' + event.code + '), reconnecting in ' +
                (wait / 1000).toFixed(1) + ' s');
      setTimeout(connect, wait);
    };
  }

  input.addEventListener('input', updateCounter);

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || text.length > maxLength) { updateCounter(); return; }
    outbox.push(text);
    input.value = '';
    updateCounter();
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      showError('not connected: your message goes out once reconnected');
    }
    flush();
  });

  if (nickForm && nickInput) {
    nickForm.addEventListener('submit', function (event) {
      event.preventDefault();
      var name = nickInput.value.trim();
      if (!name || name === nick.textContent) { return; }
      if (!socket || socket.readyState !== WebSocket.OPEN) {
        showError('not connected: try again once reconnected');
        return;
      }
      var id = nextId++;
      renaming.set(id, name);
      socket.send(JSON.stringify({type: 'nick', id: id, name: name}));
    });
  }

  // for tests and the curious
  window.aiotaoChat = {
    waiting: function () { return outbox.length + pending.size; },
    drop: function () { if (socket) { socket.close(); } }
  };

  updateCounter();
  connect();
}());
