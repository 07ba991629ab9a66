// The arena shooter's browser client (aiotao.game:static/arena.js).
//
// The page holds <div id="arena" data-ws-url="/game/ws"> with the canvas and
// controls (see the demo's game.jinja2).  The server is authoritative: this
// client sends intents (direction, aim, fire) 20 times a second and draws
// the snapshots it gets, about 100 ms in the past, interpolating between
// two snapshots so that 20 Hz looks smooth at 60 frames per second.
// Player names are user text: they are drawn on the canvas with fillText
// and put in the page with textContent, never as HTML.  A dropped
// connection takes its seat back; when a public room closes (its rules
// failed, its worker stopped) the page joins another one like it.
(function () {
  'use strict';

  var root = document.getElementById('arena');
  if (!root) { return; }
  var canvas = root.querySelector('canvas');
  var ctx = canvas.getContext('2d');
  var statusLine = root.querySelector('[data-role=status]');
  var scores = root.querySelector('[data-role=scores]');
  var nameInput = root.querySelector('[data-role=name]');
  var codeInput = root.querySelector('[data-role=code]');
  var INTERPOLATION_DELAY = 0.1;  // seconds behind the newest snapshot
  var INPUT_INTERVAL = 50;        // ms between two inputs (20 per second)
  var TOKEN_KEY = 'aiotao.game.token';

  var socket = null;
  var tickRate = 20;
  var me = null;            // my seat id once welcomed
  var room = null;
  var state = null;         // the latest full state (snapshot + deltas)
  var buffer = [];          // [{time, state}] for interpolation
  var clockOffset = null;   // server time - local time, smoothed
  var keys = {};
  var aim = 0;
  var mouseFire = false;
  var seq = 0;
  var closedOnPurpose = false;

  function setStatus(text) { statusLine.textContent = text; }

  function now() { return performance.now() / 1000; }

  function mergeApply(target, patch) {
    var result = Object.assign({}, target);
    Object.keys(patch).forEach(function (key) {
      var value = patch[key];
      if (value === null) {
        delete result[key];
      } else if (typeof value === 'object' && !Array.isArray(value)) {
        var old = result[key];
        result[key] = mergeApply(old && typeof old === 'object' ? old : {}, value);
      } else {
        result[key] = value;
      }
    });
    return result;
  }

  function remember(tick) {
    var serverTime = tick / tickRate;
    var offset = serverTime - now();
    clockOffset = clockOffset === null ? offset : clockOffset + (offset - clockOffset) * 0.1;
    buffer.push({time: serverTime, state: state});
    while (buffer.length > 2 && buffer[1].time < serverTime - 1) { buffer.shift(); }
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify(message));
    }
  }

  // The last room asked for, to find another like it when that one closes.
  var lastJoin = null;

  function join(message) {
    message.type = 'join';
    message.name = nameInput.value;
    lastJoin = message;
    send(message);
  }

  function joinAnotherRoom(reason) {
    // A public room (quick play, or a new one with bots) has others like
    // it: play on there, as anyone would.  A private room's friends know
    // its code only: a new private room would be one nobody can find.
    if (lastJoin === null || lastJoin.mode === 'private') {
      setStatus('room closed (' + reason + '): pick a room');
      return;
    }
    setStatus('room closed (' + reason + '): joining another room...');
    var again = {mode: lastJoin.mode, bots: lastJoin.bots || 0};
    // jittered, so that the players of a closed room do not all ask at once
    setTimeout(function () { if (room === null) { join(again); } },
               500 + Math.random() * 1000);
  }

  function onMessage(event) {
    var message = JSON.parse(event.data);
    switch (message.type) {
      case 'hello':
        tickRate = message.tick_rate;
        var token = sessionStorage.getItem(TOKEN_KEY);
        if (token) {
          setStatus('reconnecting to your seat...');
          send({type: 'join', token: token});
        } else {
          setStatus('connected (worker ' + message.worker + '): pick a room');
        }
        break;
      case 'welcome':
        me = message.seat;
        room = message.room;
        sessionStorage.setItem(TOKEN_KEY, message.token);
        setStatus('room ' + room + (message.code ? ' (code ' + message.code + ')' : '') +
                  ', you are ' + me + (message.rejoined ? ' (seat kept)' : ''));
        root.dataset.room = room;
        root.dataset.seat = me;
        if (message.code) { codeInput.value = message.code; }
        break;
      case 'snapshot':
        state = message.state;
        remember(message.tick);
        break;
      case 'delta':
        if (state !== null) {
          state = mergeApply(state, message.patch);
          remember(message.tick);
        }
        break;
      case 'room_closed':
        sessionStorage.removeItem(TOKEN_KEY);
        me = null; room = null; state = null; buffer = [];
        delete root.dataset.room; delete root.dataset.seat;
        joinAnotherRoom(message.reason);
        break;
      case 'error':
        if (message.code === 'bad_token' || message.code === 'no_such_room') {
          sessionStorage.removeItem(TOKEN_KEY);
        }
        setStatus('error: ' + message.message);
        break;
    }
  }

  function connect() {
    var url = new URL(root.dataset.wsUrl, window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(url.href);
    socket.onmessage = onMessage;
    socket.onclose = function (event) {
      me = null;
      if (closedOnPurpose) { return; }
      setStatus('disconnected (' + event.code + '); reconnecting...');
      setTimeout(connect, 1000);  // the token takes the seat back
    };
  }

  function direction() {
    var dx = 0, dy = 0;
    if (keys.ArrowLeft || keys.KeyA) { dx -= 1; }
    if (keys.ArrowRight || keys.KeyD) { dx += 1; }
    if (keys.ArrowUp || keys.KeyW) { dy -= 1; }
    if (keys.ArrowDown || keys.KeyS) { dy += 1; }
    var length = Math.hypot(dx, dy);
    return length > 0 ? [dx / length, dy / length] : [0, 0];
  }

  function sendInput() {
    if (me === null) { return; }
    var d = direction();
    seq += 1;
    send({type: 'input', dx: d[0], dy: d[1], aim: aim, fire: !!(keys.Space || mouseFire), seq: seq});
  }

  // -- drawing --------------------------------------------------------------

  function colour(id) {
    var hash = 0;
    for (var i = 0; i < id.length; i++) { hash = (hash * 31 + id.charCodeAt(i)) % 360; }
    // spread by the golden angle: p1 and p2 get far-apart hues
    return 'hsl(' + (hash * 137) % 360 + ', 70%, 55%)';
  }

  function interpolated() {
    if (buffer.length === 0) { return null; }
    var renderTime = now() + clockOffset - INTERPOLATION_DELAY;
    var i = buffer.length - 1;
    while (i > 0 && buffer[i - 1].time > renderTime) { i--; }
    var newer = buffer[i];
    var older = i > 0 ? buffer[i - 1] : null;
    if (older === null || renderTime >= newer.time) {
      return Object.assign({}, newer.state, {time: Math.min(renderTime, newer.time)});
    }
    var t = Math.max(0, Math.min(1, (renderTime - older.time) / (newer.time - older.time)));
    var view = Object.assign({}, newer.state);
    var players = {};
    Object.keys(newer.state.players).forEach(function (id) {
      var a = older.state.players[id], b = newer.state.players[id];
      players[id] = a ? Object.assign({}, b, {x: a.x + (b.x - a.x) * t, y: a.y + (b.y - a.y) * t}) : b;
    });
    view.players = players;
    view.time = renderTime;
    return view;
  }

  function draw() {
    var view = interpolated();
    ctx.fillStyle = '#10141c';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (view !== null) {
      var arena = view.arena;
      var scale = Math.min(canvas.width / arena.w, canvas.height / arena.h);
      ctx.save();
      ctx.scale(scale, scale);
      ctx.strokeStyle = '#3a4660';
      ctx.lineWidth = 2;
      ctx.strokeRect(1, 1, arena.w - 2, arena.h - 2);
      Object.keys(view.bullets).forEach(function (id) {
        // sent once when fired: where it is now follows from its velocity
        var b = view.bullets[id];
        var flown = Math.max(0, view.time - b.t);
        ctx.fillStyle = '#ffd35c';
        ctx.beginPath();
        ctx.arc(b.x + b.vx * flown, b.y + b.vy * flown, 3, 0, Math.PI * 2);
        ctx.fill();
      });
      Object.keys(view.players).forEach(function (id) {
        var p = view.players[id];
        if (p.hp <= 0) { return; }
        ctx.fillStyle = colour(id);
        ctx.beginPath();
        ctx.arc(p.x, p.y, arena.r, 0, Math.PI * 2);
        ctx.fill();
        if (id === me) {
          ctx.strokeStyle = '#ffffff';
          ctx.lineWidth = 3;
          ctx.stroke();
        }
        ctx.strokeStyle = '#ffffff';
        ctx.lineWidth = 2;
        ctx.beginPath();
        ctx.moveTo(p.x, p.y);
        ctx.lineTo(p.x + Math.cos(p.aim) * arena.r * 1.6, p.y + Math.sin(p.aim) * arena.r * 1.6);
        ctx.stroke();
        ctx.fillStyle = '#dfe6f3';
        ctx.font = '12px sans-serif';
        ctx.textAlign = 'center';
        ctx.fillText(p.name + ' ' + '\u2665'.repeat(p.hp), p.x, p.y - arena.r - 6);
      });
      ctx.restore();
    }
    requestAnimationFrame(draw);
  }

  function updateScores() {
    if (state === null) { return; }
    var players = state.players;
    var ids = Object.keys(players).sort(function (a, b) { return players[b].score - players[a].score; });
    while (scores.firstChild) { scores.removeChild(scores.firstChild); }
    ids.forEach(function (id) {
      var item = document.createElement('li');
      item.textContent = players[id].name + (players[id].bot ? ' (bot)' : '') + ': ' + players[id].score;
      if (id === me) { item.className = 'me'; }
      scores.appendChild(item);
    });
  }

  // -- controls -------------------------------------------------------------

  var GAME_KEYS = ['ArrowLeft', 'ArrowRight', 'ArrowUp', 'ArrowDown', 'KeyA', 'KeyD', 'KeyW', 'KeyS', 'Space'];
  window.addEventListener('keydown', function (event) {
    if (event.target === nameInput || event.target === codeInput) { return; }
    if (GAME_KEYS.indexOf(event.code) >= 0) {
      keys[event.code] = true;
      var d = direction();
      if (d[0] || d[1]) { aim = Math.atan2(d[1], d[0]); }
      event.preventDefault();
    }
  });
  window.addEventListener('keyup', function (event) { keys[event.code] = false; });
  canvas.addEventListener('mousemove', function (event) {
    if (state === null || me === null || !state.players[me]) { return; }
    var rect = canvas.getBoundingClientRect();
    var scale = Math.min(canvas.width / state.arena.w, canvas.height / state.arena.h);
    var x = (event.clientX - rect.left) * (canvas.width / rect.width) / scale;
    var y = (event.clientY - rect.top) * (canvas.height / rect.height) / scale;
    var p = state.players[me];
    aim = Math.atan2(y - p.y, x - p.x);
  });
  canvas.addEventListener('mousedown', function () { mouseFire = true; });
  window.addEventListener('mouseup', function () { mouseFire = false; });

  root.querySelectorAll('button[data-join]').forEach(function (button) {
    button.addEventListener('click', function () {
      var mode = button.dataset.join;
      if (room !== null) { send({type: 'leave'}); room = null; me = null; state = null; buffer = []; }
      sessionStorage.removeItem(TOKEN_KEY);
      if (mode === 'code') {
        join({mode: 'private', code: codeInput.value.trim().toUpperCase()});
      } else {
        join({mode: mode, bots: parseInt(button.dataset.bots || '0', 10)});
      }
    });
  });

  // for tests and the curious: what this page shows right now
  window.aiotaoArena = {
    seat: function () { return me; },
    room: function () { return room; },
    players: function () { var view = interpolated(); return view ? view.players : {}; },
    close: function () { closedOnPurpose = true; socket.close(); },
    // as if the network dropped: the page reconnects and takes its seat back
    drop: function () { socket.close(); }
  };

  setInterval(sendInput, INPUT_INTERVAL);
  setInterval(updateScores, 250);
  connect();
  requestAnimationFrame(draw);
}());
