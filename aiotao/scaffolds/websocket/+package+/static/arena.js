// The arena shooter's browser client (static/arena.js beside the rules, arena.py).
//
// The page holds <div id="arena" data-ws-url="/game/ws"> with the canvas and
// controls (see the demo's game.jinja2).  The server is authoritative: this
// client sends intents (direction, aim, fire) 20 times a second and draws
// the snapshots it gets, about 100 ms in the past, interpolating between
// two snapshots so that 20 Hz looks smooth at 60 frames per second.
//
// Everything a player needs is on the canvas: a heads-up display (name,
// health, score), the scoreboard, the kill feed, a shield ring after a
// spawn, "killed by X, back in 1.2 s" while dead, ships of players whose
// connection dropped drawn faded and marked away, and what happened when
// the room's server stopped.  Player names are user text: drawn with
// fillText and put in the page with textContent, never as HTML.
//
// A dropped connection takes its seat back (the token in sessionStorage);
// when the worker running the room dies another worker resumes the room
// from its last checkpoint and the page plays on in it, same seat and
// score, saying so across the canvas (or, for a room that cannot resume,
// the server moves everyone in it to one new room); when a public room
// closes the page joins another like it.  A page opened with ?room=ID or ?code=CODE (the share link) joins
// that room; a name is made up the first time and kept in localStorage.
(function () {
  'use strict';

  var root = document.getElementById('arena');
  if (!root) { return; }
  var canvas = root.querySelector('canvas');
  var ctx = canvas.getContext('2d');
  function part(role) { return root.querySelector('[data-role=' + role + ']'); }
  var statusLine = part('status');
  var scores = part('scores');
  var nameInput = part('name');
  var codeInput = part('code');
  var leaveButton = part('leave');
  var share = part('share');
  var shareLink = part('share-link');
  var copyButton = part('copy');
  var INTERPOLATION_DELAY = 0.1;  // seconds behind the newest snapshot
  var INPUT_INTERVAL = 50;        // ms between two inputs (20 per second)
  var TOKEN_KEY = 'aiotao.game.token';
  var NAME_KEY = 'aiotao.game.name';
  var ADJECTIVES = ['brave', 'brisk', 'calm', 'clever', 'eager', 'fuzzy', 'happy', 'jolly',
                    'keen', 'lucky', 'merry', 'nimble', 'plucky', 'quick', 'swift', 'witty'];
  var ANIMALS = ['badger', 'crane', 'eagle', 'ferret', 'fox', 'gecko', 'heron', 'koala',
                 'lynx', 'newt', 'otter', 'panda', 'puffin', 'raven', 'seal', 'wombat'];

  var socket = null;
  var tickRate = 20;
  var me = null;            // my seat id once welcomed
  var myName = '';
  var room = null;
  var roomCode = null;
  var state = null;         // the latest full state (snapshot + deltas)
  var buffer = [];          // [{time, state}] for interpolation
  var clockOffset = null;   // server time - local time, smoothed
  var keys = {};
  var aim = 0;
  var mouseFire = false;
  var seq = 0;
  var closedOnPurpose = false;
  var banner = null;        // {text, until}: a message across the canvas
  var tokenRetries = 0;     // token joins refused while the room changed servers

  function setStatus(text) { statusLine.textContent = text; }

  function now() { return performance.now() / 1000; }

  function pick(list) { return list[Math.floor(Math.random() * list.length)]; }

  // -- a name of one's own ----------------------------------------------------

  var savedName = localStorage.getItem(NAME_KEY);
  if (!nameInput.value || nameInput.value === 'player') {
    nameInput.value = savedName || pick(ADJECTIVES) + ' ' + pick(ANIMALS);
  }
  localStorage.setItem(NAME_KEY, nameInput.value);
  nameInput.addEventListener('change', function () {
    localStorage.setItem(NAME_KEY, nameInput.value.trim());
  });

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
    message.name = nameInput.value.trim();
    lastJoin = message;
    send(message);
  }

  function forgetRoom() {
    me = null; room = null; roomCode = null; state = null; buffer = [];
    delete root.dataset.room; delete root.dataset.seat;
    leaveButton.hidden = true;
    if (share) { share.hidden = true; }
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
    var again = {mode: lastJoin.mode || 'quick', bots: lastJoin.bots || 0};
    // jittered, so that the players of a closed room do not all ask at once
    setTimeout(function () { if (room === null) { join(again); } },
               500 + Math.random() * 1000);
  }

  function showShare() {
    if (!share) { return; }
    var link = new URL(window.location.pathname, window.location.href);
    if (roomCode) { link.searchParams.set('code', roomCode); } else { link.searchParams.set('room', room); }
    shareLink.href = link.href;
    shareLink.textContent = link.href;
    share.hidden = false;
  }

  function describe() {
    return myName + ' in room ' + (roomCode || room);
  }

  function firstJoin() {
    // a reload takes the seat back; a shared link joins its room
    var token = sessionStorage.getItem(TOKEN_KEY);
    var params = new URLSearchParams(window.location.search);
    if (token) {
      setStatus('reconnecting to your seat...');
      send({type: 'join', token: token, name: nameInput.value.trim()});
    } else if (params.get('code')) {
      codeInput.value = params.get('code');
      join({mode: 'private', code: params.get('code')});
    } else if (params.get('room')) {
      join({room: params.get('room')});
    } else {
      setStatus('pick a room: quick play puts you with other people (and bots)');
    }
  }

  function onMessage(event) {
    var message = JSON.parse(event.data);
    switch (message.type) {
      case 'hello':
        tickRate = message.tick_rate;
        root.dataset.worker = message.worker;
        firstJoin();
        break;
      case 'welcome':
        tokenRetries = 0;
        me = message.seat;
        room = message.room;
        roomCode = message.code;
        myName = message.name;
        sessionStorage.setItem(TOKEN_KEY, message.token);
        setStatus(describe() + (message.rejoined ? ' (seat kept)' : ''));
        // a resumed room counts its ticks from its checkpoint: the clock
        // and the interpolation start again from its next snapshot
        buffer = [];
        clockOffset = null;
        if (message.resumed) {
          banner = {text: message.resumed, until: now() + 8};
          root.dataset.resumed = room;
        }
        root.dataset.room = room;
        root.dataset.seat = me;
        if (message.code) { codeInput.value = message.code; }
        leaveButton.hidden = false;
        showShare();
        break;
      case 'moved':
        forgetRoom();
        banner = {text: message.reason, until: now() + 8};
        root.dataset.moved = message.room;
        setStatus(message.reason);
        break;
      case 'snapshot':
        state = message.state;
        if (buffer.length && message.tick < buffer[buffer.length - 1].time * tickRate) {
          buffer = [];  // (ticks went back: the room resumed elsewhere)
          clockOffset = null;
        }
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
        forgetRoom();
        joinAnotherRoom(message.reason);
        break;
      case 'error':
        if (message.code === 'room_closed' && me === null &&
            sessionStorage.getItem(TOKEN_KEY) && tokenRetries < 3) {
          // the room's server stopped and another is taking it over:
          // ask for the seat again in a moment
          tokenRetries += 1;
          setStatus('your room is moving to another server: reconnecting...');
          setTimeout(function () { if (me === null) { firstJoin(); } }, 1000);
          break;
        }
        if (message.code === 'bad_token' || message.code === 'no_such_room') {
          var hadToken = sessionStorage.getItem(TOKEN_KEY);
          sessionStorage.removeItem(TOKEN_KEY);
          if (hadToken && room === null) {
            setStatus('your room has closed: joining another...');
            join({mode: 'quick'});
            break;
          }
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

  function text(value, x, y, options) {
    ctx.font = (options.weight || '') + ' ' + (options.size || 13) + 'px system-ui, sans-serif';
    ctx.textAlign = options.align || 'left';
    ctx.textBaseline = options.baseline || 'alphabetic';
    if (options.shadow !== false) {
      ctx.fillStyle = 'rgba(0, 0, 0, 0.75)';
      ctx.fillText(value, x + 1, y + 1);
    }
    ctx.fillStyle = options.colour || '#dfe6f3';
    ctx.fillText(value, x, y);
  }

  function panel(x, y, w, h) {
    ctx.fillStyle = 'rgba(30, 37, 52, 0.88)';
    ctx.fillRect(x, y, w, h);
    ctx.strokeStyle = 'rgba(90, 104, 135, 0.9)';
    ctx.lineWidth = 1;
    ctx.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
  }

  function drawShip(id, p, arena) {
    var away = !!p.away;
    ctx.globalAlpha = away ? 0.35 : 1;
    ctx.fillStyle = colour(id);
    ctx.beginPath();
    ctx.arc(p.x, p.y, arena.r, 0, Math.PI * 2);
    ctx.fill();
    if (id === me) {
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 3;
      ctx.stroke();
    }
    if (p.shield) {
      ctx.strokeStyle = 'rgba(120, 200, 255, 0.9)';
      ctx.lineWidth = 2;
      ctx.setLineDash([5, 4]);
      ctx.beginPath();
      ctx.arc(p.x, p.y, arena.r + 6, 0, Math.PI * 2);
      ctx.stroke();
      ctx.setLineDash([]);
    }
    if (!away) {
      ctx.strokeStyle = '#ffffff';
      ctx.lineWidth = 2;
      ctx.beginPath();
      ctx.moveTo(p.x, p.y);
      ctx.lineTo(p.x + Math.cos(p.aim) * arena.r * 1.6, p.y + Math.sin(p.aim) * arena.r * 1.6);
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    // the label stays inside the arena, above the ship (below it at the top)
    var label = p.name + (away ? ' (away)' : ' ' + '\u2665'.repeat(Math.max(0, p.hp)));
    ctx.font = '12px system-ui, sans-serif';
    var half = ctx.measureText(label).width / 2 + 4;
    var x = Math.max(half, Math.min(arena.w - half, p.x));
    var y = p.y - arena.r - 8 < 14 ? p.y + arena.r + 16 : p.y - arena.r - 8;
    text(label, x, y, {size: 12, align: 'center', colour: away ? '#9aa4b5' : '#dfe6f3'});
  }

  function drawHud(view, arena, mine) {
    // mine, top left
    panel(8, 8, 230, 52);
    text(myName || '', 18, 30, {size: 16, weight: 'bold', colour: '#ffffff'});
    var health = mine ? '\u2665'.repeat(Math.max(0, mine.hp)) + '\u2661'.repeat(Math.max(0, 3 - Math.max(0, mine.hp))) : '';
    text(health, 18, 50, {size: 15, colour: '#ff7a7a'});
    text('score ' + (mine ? mine.score : 0), 228, 50, {size: 14, align: 'right'});
    text(roomCode ? 'code ' + roomCode : 'room ' + (room || ''), 228, 30, {size: 12, align: 'right', colour: '#9aa4b5'});
    // the scoreboard, top right
    var players = view.players;
    var ids = Object.keys(players).sort(function (a, b) { return players[b].score - players[a].score; });
    var rows = Math.min(ids.length, 10);
    panel(arena.w - 208, 8, 200, 26 + rows * 18);
    text('score', arena.w - 198, 26, {size: 12, colour: '#9aa4b5'});
    ids.slice(0, rows).forEach(function (id, n) {
      var p = players[id];
      var y = 44 + n * 18;
      var name = p.name.length > 18 ? p.name.slice(0, 17) + '\u2026' : p.name;
      var colourOf = id === me ? '#ffd35c' : (p.away ? '#9aa4b5' : '#dfe6f3');
      text(name + (p.bot ? ' \u2699' : '') + (p.away ? ' (away)' : ''), arena.w - 198, y, {size: 13, colour: colourOf});
      text(String(p.score), arena.w - 16, y, {size: 13, align: 'right', colour: colourOf});
    });
    // the kill feed, top centre
    (view.feed || []).slice(-4).forEach(function (kill, n) {
      var fresh = view.time - kill[0] < 6;
      if (fresh) { text(kill[1] + ' \u2192 ' + kill[2], arena.w / 2, 24 + n * 17, {size: 13, align: 'center', colour: '#ffd35c'}); }
    });
    // dead: by whom, and when back
    if (mine && mine.down) {
      var left = Math.max(0, mine.down[1] - view.time);
      panel(arena.w / 2 - 190, arena.h / 2 - 42, 380, 84);
      text('killed by ' + mine.down[0], arena.w / 2, arena.h / 2 - 8, {size: 24, weight: 'bold', align: 'center', colour: '#ff7a7a'});
      text('back in ' + left.toFixed(1) + ' s', arena.w / 2, arena.h / 2 + 24, {size: 16, align: 'center'});
    } else if (mine && mine.shield && banner === null) {
      text('shielded until you fire', arena.w / 2, arena.h - 18, {size: 13, align: 'center', colour: '#78c8ff'});
    }
  }

  function drawBanner(arena) {
    if (banner === null) { return; }
    if (now() > banner.until) { banner = null; return; }
    panel(0, arena.h - 64, arena.w, 44);
    // smaller type for a longer message: it stays on the canvas
    var size = 16;
    ctx.font = 'bold ' + size + 'px system-ui, sans-serif';
    while (size > 10 && ctx.measureText(banner.text).width > arena.w - 24) {
      size -= 1;
      ctx.font = 'bold ' + size + 'px system-ui, sans-serif';
    }
    text(banner.text, arena.w / 2, arena.h - 36, {size: size, weight: 'bold', align: 'center', colour: '#ffd35c'});
  }

  function draw() {
    var view = interpolated();
    ctx.fillStyle = '#10141c';
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    var arena = view !== null ? view.arena : {w: canvas.width, h: canvas.height, r: 14};
    var scale = Math.min(canvas.width / arena.w, canvas.height / arena.h);
    ctx.save();
    ctx.scale(scale, scale);
    if (view !== null) {
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
        if (p.hp > 0) { drawShip(id, p, arena); }
      });
      drawHud(view, arena, me !== null ? view.players[me] : null);
    } else if (banner === null) {
      text('pick a room to play', arena.w / 2, arena.h / 2, {size: 20, align: 'center', colour: '#9aa4b5'});
    }
    drawBanner(arena);
    ctx.restore();
    requestAnimationFrame(draw);
  }

  function updateScores() {
    // the same scoreboard as on the canvas, for screen readers
    if (state === null) { scores.replaceChildren(); return; }
    var players = state.players;
    var ids = Object.keys(players).sort(function (a, b) { return players[b].score - players[a].score; });
    scores.replaceChildren();
    ids.forEach(function (id) {
      var item = document.createElement('li');
      item.textContent = players[id].name + (players[id].bot ? ' (bot)' : '') +
                         (players[id].away ? ' (away)' : '') + ': ' + players[id].score;
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

  function leave() {
    if (room !== null) { send({type: 'leave'}); }
    sessionStorage.removeItem(TOKEN_KEY);
    forgetRoom();
  }

  root.querySelectorAll('button[data-join]').forEach(function (button) {
    button.addEventListener('click', function () {
      var mode = button.dataset.join;
      leave();
      localStorage.setItem(NAME_KEY, nameInput.value.trim());
      if (mode === 'code') {
        join({mode: 'private', code: codeInput.value.trim().toUpperCase()});
      } else {
        join({mode: mode, bots: parseInt(button.dataset.bots || '0', 10)});
      }
    });
  });
  leaveButton.addEventListener('click', function () {
    leave();
    lastJoin = null;
    setStatus('you left the room: pick another');
  });
  if (copyButton) {
    copyButton.addEventListener('click', function () {
      if (navigator.clipboard) { navigator.clipboard.writeText(shareLink.href); }
    });
  }

  // for tests and the curious: what this page shows right now
  window.aiotaoArena = {
    seat: function () { return me; },
    room: function () { return room; },
    name: function () { return myName; },
    players: function () { var view = interpolated(); return view ? view.players : {}; },
    state: function () { return state; },
    banner: function () { return banner ? banner.text : null; },
    close: function () { closedOnPurpose = true; socket.close(); },
    // as if the network dropped: the page reconnects and takes its seat back
    drop: function () { socket.close(); }
  };

  setInterval(sendInput, INPUT_INTERVAL);
  setInterval(updateScores, 250);
  connect();
  requestAnimationFrame(draw);
}());
