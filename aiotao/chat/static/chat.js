// The chat page: one room over a websocket, speaking aiotao.chat's JSON protocol.
//
// Everything people typed is put on the page with textContent, never
// innerHTML: a message "<img src=x onerror=...>" shows as those characters.
// The socket reconnects by itself (backoff from 0.5 s to 10 s, jittered);
// on each (re)join the server sends the recent history again, and messages
// already shown are skipped by their id.
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

  var MIN_DELAY = 500;
  var MAX_DELAY = 10000;
  var delay = MIN_DELAY;
  var socket = null;
  var nextId = 1;
  var shown = new Set();     // ids of the messages on the page
  var pending = new Map();   // say id -> text, until the server stored it

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

  var handlers = {
    welcome: function (message) {
      nick.textContent = message.nick;
      input.maxLength = message.max_length;
    },
    history: function (message) { message.messages.forEach(showMessage); },
    message: showMessage,
    members: function (message) { showMembers(message.members); },
    joined: function (message) { showEvent(message.nick + ' joined'); },
    left: function (message) { showEvent(message.nick + ' left'); },
    renamed: function (message) { showEvent(message.old + ' is now ' + message.nick); },
    reply: function (message) {
      if (pending.delete(message.id)) { showError(''); }
    },
    error: function (message) {
      var text = pending.get(message.id);
      if (text !== undefined) {
        pending.delete(message.id);
        if (!input.value) { input.value = text; }  // not stored: let them resend
      }
      showError(message.message);
    }
  };

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
      // messages not acknowledged may not be stored: offer the last one again
      pending.forEach(function (text) { if (!input.value) { input.value = text; } });
      pending.clear();
      var wait = delay / 2 + Math.random() * delay / 2;
      delay = Math.min(delay * 2, MAX_DELAY);
      setStatus('closed', 'disconnected (' + event.code + '), reconnecting in ' +
                (wait / 1000).toFixed(1) + ' s');
      setTimeout(connect, wait);
    };
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    if (!socket || socket.readyState !== WebSocket.OPEN) {
      showError('not connected: the message will be sendable once reconnected');
      return;
    }
    var id = nextId++;
    pending.set(id, text);
    socket.send(JSON.stringify({type: 'say', id: id, text: text}));
    input.value = '';
  });

  connect();
}());
