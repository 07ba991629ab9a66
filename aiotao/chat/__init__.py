"""A websocket chat: rooms, history in MongoDB, presence, across workers.

::

    config.include('aiotao.chat')        # needs mongo.uri (request.db)
    config.add_chat_route('chat', '/chat/{room}/socket')

and a page whose script speaks the JSON protocol of
:mod:`aiotao.chat.protocol`: ``aiotao.chat:static/chat.js`` is one,
served by the include (the demo's and the ``aiotao_websocket`` scaffold's
chat pages use it).  Messages reach every worker and
machine through the broadcast backend of :mod:`aiotao.websocket.groups`.

The modules, by concern:

* :mod:`~aiotao.chat.protocol`: the messages, both ways;
* :mod:`~aiotao.chat.views`: the websocket view (join, history, leave);
* :mod:`~aiotao.chat.session`: what a client may say and be called,
  socket-free;
* :mod:`~aiotao.chat.connection`: the session's driver on a websocket;
* :mod:`~aiotao.chat.history`: messages in MongoDB, stored before acknowledged;
* :mod:`~aiotao.chat.presence`: who is in a room, across workers
  (on :mod:`aiotao.presence`), and nicknames unique in a room;
* :mod:`~aiotao.chat.announcements`: joined / left / renamed, then members;
* :mod:`~aiotao.chat.nicknames`: names from the identity, the session, or
  chosen and checked;
* :mod:`~aiotao.chat.lookalikes`: when two names look the same;
* :mod:`~aiotao.chat.signed_in`: the names of signed-in users, theirs alone
  (in memory, Redis or MongoDB: ``aiotao.chat.presence``);
* :mod:`~aiotao.chat.text`: what text may hold;
* :mod:`~aiotao.chat.rooms`: room names and their groups;
* :mod:`~aiotao.chat.settings`: the ``aiotao.chat.*`` settings;
* :mod:`~aiotao.chat.config`: ``includeme`` and ``add_chat_route``.
"""

from aiotao.chat.config import add_chat_route, includeme
from aiotao.chat.connection import ChatConnection
from aiotao.chat.history import ChatHistory, get_history
from aiotao.chat.nicknames import Nickname, check_nickname, nickname_for
from aiotao.chat.presence import ChatPresence, get_chat_presence
from aiotao.chat.protocol import ChatMessage
from aiotao.chat.settings import ChatSettings, get_chat_settings
from aiotao.chat.views import ChatView

__all__ = [
    'ChatConnection',
    'ChatHistory',
    'ChatMessage',
    'ChatPresence',
    'ChatSettings',
    'ChatView',
    'Nickname',
    'add_chat_route',
    'check_nickname',
    'get_chat_presence',
    'get_chat_settings',
    'get_history',
    'includeme',
    'nickname_for',
]
