// The websocket echo test: CONNECTED, SENT, RESPONSE, DISCONNECTED.
(function () {
  'use strict';
  var output = document.getElementById('output');
  var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  var socket = new WebSocket(scheme + location.host + output.dataset.echoUrl);
  var message = 'aiotao echo test.';

  function write(text) {
    var line = document.createElement('p');
    line.textContent = text;  // textContent: never parsed as HTML
    output.appendChild(line);
  }

  socket.onopen = function () {
    write('CONNECTED');
    socket.send(message);
    write('SENT: ' + message);
  };
  socket.onmessage = function (event) {
    write('RESPONSE: ' + event.data);
    socket.close();
  };
  socket.onclose = function () { write('DISCONNECTED'); };
  socket.onerror = function () { write('ERROR'); };
}());
