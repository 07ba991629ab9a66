"""The arena shooter: the rules of the game the demo and the scaffold ship.

A bounded 2-D arena; each player steers (a direction), aims (an angle) and
fires.  The server moves players at most :attr:`Arena.speed` per second,
enforces a cooldown between shots, moves the bullets, scores hits and
respawns the dead.  What makes it fair to a newcomer:

* a ship (re)spawns at the free spot farthest from every other ship, and is
  shielded for :attr:`Arena.spawn_protection` seconds (until it fires):
  bullets pass through it and bots leave it alone;
* a player whose connection dropped is *away*: its ship stays still, cannot
  be hit and is not a target, until it comes back or its seat is freed;
* bots aim worse, fire slower and move slower than a person can;
* the snapshot says who killed whom (``feed``) and, for a dead ship, by whom
  and when it is back (``down``), for the page to show.

::

    >>> import random
    >>> arena = Arena(random.Random(1))
    >>> ana = Player('p1', 'ana')
    >>> arena.on_join(ana)
    >>> x = arena.ships['p1'].x
    >>> arena.on_input(ana, ArenaInput(dx=1, dy=0, aim=0, fire=False))
    >>> arena.step(0.05)
    >>> round(arena.ships['p1'].x - x, 6)   # speed * dt, whatever the client says
    10.0

Inputs are intents: a client claiming a position or firing every frame
gets the same as everyone else.

The arena checkpoints its whole state (ships with their scores, bullets
in flight, the bots' minds, the game time, the feed), so that a room
whose worker dies resumes elsewhere::

    >>> import json
    >>> copy = Arena(random.Random(2))
    >>> copy.restore(json.loads(json.dumps(arena.checkpoint())))
    >>> copy.snapshot() == arena.snapshot()
    True
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, fields
from typing import Annotated, Any, TypeVar

from aiotao.game.rules import GameRules, InvalidInput, Player
from aiotao.websocket.schema import Range

__all__ = ['Arena', 'ArenaInput']

_PI = 3.1416  # a little over pi: the aim's bound, so that ±math.pi passes

_Record = TypeVar('_Record')


@dataclass(slots=True)
class ArenaInput:
    """What a client sends each frame: where it steers, aims, and whether it fires."""

    #: Direction of travel; the vector is clamped to unit length.
    dx: Annotated[float, Range(-1, 1)] = 0.0
    dy: Annotated[float, Range(-1, 1)] = 0.0
    #: Aim angle in radians (0: right, pi/2: down).
    aim: Annotated[float, Range(-_PI, _PI)] = 0.0
    fire: bool = False
    #: The client's input counter, echoed in snapshots (``ack``) so that it
    #: knows which of its inputs the server has applied.
    seq: Annotated[int, Range(0, 2**31)] = 0


@dataclass(slots=True)
class Ship:
    name: str
    bot: bool
    x: float
    y: float
    aim: float = 0.0
    dx: float = 0.0
    dy: float = 0.0
    firing: bool = False
    hp: int = 3
    score: int = 0
    cooldown: float = 0.0
    respawn_in: float = 0.0
    ack: int = 0
    #: Game time until which bullets pass through it (after a spawn).
    shielded_until: float = 0.0
    #: The connection dropped: still, not hittable, not a target.
    away: bool = False
    #: Who killed it, and the game time it is back (while dead).
    killed_by: str = ''
    back_at: float = 0.0

    @property
    def alive(self) -> bool:
        return self.hp > 0

    def shielded(self, now: float) -> bool:
        return now < self.shielded_until

    def targetable(self, now: float) -> bool:
        return self.alive and not self.away and not self.shielded(now)


@dataclass(slots=True)
class Bullet:
    owner: str
    x: float
    y: float
    vx: float
    vy: float
    ttl: float
    #: Where and when it was fired: all a client needs to draw its flight.
    x0: float
    y0: float
    fired: float


@dataclass(slots=True)
class _BotMind:
    target: str | None = None
    wander: float = 0.0
    retarget_in: float = 0.0
    strafe: float = 1.0


class Arena(GameRules[ArenaInput]):
    """The arena shooter's rules."""

    input_schema = ArenaInput
    max_players = 10

    width = 960.0
    height = 600.0
    radius = 14.0
    #: Pixels per second, whatever the input.
    speed = 200.0
    #: Seconds between two shots of one ship.
    fire_cooldown = 0.3
    bullet_speed = 520.0
    bullet_ttl = 1.2
    max_hp = 3
    respawn_delay = 2.0
    #: Seconds a (re)spawned ship is shielded, unless it fires first.
    spawn_protection = 2.0
    #: Spots tried for a spawn; the one farthest from other ships wins.
    spawn_candidates = 12
    #: Bots: slower ships, slower guns, shakier aim (radians), shorter sight.
    bot_speed = 0.7
    bot_fire_cooldown = 0.7
    bot_aim_error = 0.35
    bot_sight = 380.0
    #: Kills listed in the feed, and for how long (seconds).
    feed_size = 5
    feed_for = 6.0

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.ships: dict[str, Ship] = {}
        self.bullets: dict[int, Bullet] = {}
        #: What players see of each bullet, which never changes: made once
        #: (five rounded numbers), and the same object tick after tick
        #: costs the delta next to nothing to compare.
        self._bullet_views: dict[int, tuple[str, dict[str, float]]] = {}
        self._next_bullet = 0
        self._minds: dict[str, _BotMind] = {}
        self.time = 0.0
        #: The last kills: ``(time, killer's name, victim's name)``.
        self.feed: list[tuple[float, str, str]] = []

    # -- seats -------------------------------------------------------------

    def _spawn_point(self, me: str | None = None) -> tuple[float, float]:
        """The candidate spot farthest from every other live ship."""
        margin = self.radius * 3
        others = [
            (ship.x, ship.y)
            for id, ship in self.ships.items()
            if id != me and ship.alive and not ship.away
        ]
        best, best_room = (self.width / 2, self.height / 2), -1.0
        for _ in range(self.spawn_candidates):
            x = self.rng.uniform(margin, self.width - margin)
            y = self.rng.uniform(margin, self.height - margin)
            room = min((math.hypot(x - ox, y - oy) for ox, oy in others), default=0.0)
            if room > best_room:
                best, best_room = (x, y), room
        return best

    def _spawn(self, id: str, ship: Ship) -> None:
        ship.x, ship.y = self._spawn_point(id)
        ship.hp = self.max_hp
        ship.shielded_until = self.time + self.spawn_protection
        ship.killed_by = ''

    def on_join(self, player: Player) -> None:
        ship = Ship(player.name, player.bot, 0.0, 0.0)
        self._spawn(player.id, ship)
        self.ships[player.id] = ship
        if player.bot:
            self._minds[player.id] = _BotMind(strafe=self.rng.choice((-1.0, 1.0)))

    def on_leave(self, player: Player) -> None:
        self.ships.pop(player.id, None)
        self._minds.pop(player.id, None)

    def on_disconnect(self, player: Player) -> None:
        ship = self.ships.get(player.id)
        if ship is not None:
            ship.away = True
            ship.dx = ship.dy = 0.0
            ship.firing = False

    def on_reconnect(self, player: Player) -> None:
        ship = self.ships.get(player.id)
        if ship is not None:
            ship.away = False

    # -- inputs ------------------------------------------------------------

    def on_input(self, player: Player, input: ArenaInput) -> None:
        ship = self.ships.get(player.id)
        if ship is None:
            raise InvalidInput('you have no ship in this arena')
        length = math.hypot(input.dx, input.dy)
        # a direction, never a speed: longer than 1 is clamped
        scale = 1.0 / length if length > 1.0 else 1.0
        ship.dx = input.dx * scale
        ship.dy = input.dy * scale
        ship.aim = input.aim
        ship.firing = input.fire
        ship.ack = max(ship.ack, input.seq)

    # -- simulation --------------------------------------------------------

    def step(self, dt: float) -> None:
        self.time += dt
        for id, ship in self.ships.items():
            if not ship.alive:
                ship.respawn_in -= dt
                if ship.respawn_in <= 0:
                    self._spawn(id, ship)
                continue
            if ship.away:
                continue
            ship.x = _clamp(
                ship.x + ship.dx * self.speed * dt,
                self.radius,
                self.width - self.radius,
            )
            ship.y = _clamp(
                ship.y + ship.dy * self.speed * dt,
                self.radius,
                self.height - self.radius,
            )
            # (the epsilon: 0.3 - 6 * 0.05 is not 0 in floating point)
            ship.cooldown = max(0.0, ship.cooldown - dt)
            if ship.firing and ship.cooldown < 1e-9:
                self._fire(id, ship)
        self._move_bullets(dt)

    def _fire(self, id: str, ship: Ship) -> None:
        ship.cooldown = self.bot_fire_cooldown if ship.bot else self.fire_cooldown
        ship.shielded_until = 0.0  # firing ends the spawn protection
        cos, sin = math.cos(ship.aim), math.sin(ship.aim)
        muzzle = self.radius + 2
        x, y = ship.x + cos * muzzle, ship.y + sin * muzzle
        self.bullets[self._next_bullet] = Bullet(
            id,
            x,
            y,
            cos * self.bullet_speed,
            sin * self.bullet_speed,
            self.bullet_ttl,
            x,
            y,
            self.time,
        )
        self._next_bullet += 1

    def _move_bullets(self, dt: float) -> None:
        hit_distance = self.radius + 3
        # the ships a bullet may hit, found once a step rather than once a
        # bullet (a room of 10 has some 30 bullets flying); only a hit
        # changes who is targetable, by downing a ship
        targets = [
            (id, ship) for id, ship in self.ships.items() if ship.targetable(self.time)
        ]
        for key, bullet in list(self.bullets.items()):
            bullet.x += bullet.vx * dt
            bullet.y += bullet.vy * dt
            bullet.ttl -= dt
            x, y = bullet.x, bullet.y
            if bullet.ttl <= 0 or not (0 <= x <= self.width and 0 <= y <= self.height):
                del self.bullets[key]
                continue
            for id, ship in targets:
                dx, dy = ship.x - x, ship.y - y
                if (
                    id == bullet.owner
                    or abs(dx) > hit_distance
                    or abs(dy) > hit_distance
                ):
                    continue
                if math.hypot(dx, dy) <= hit_distance:
                    del self.bullets[key]
                    self._hit(ship, bullet.owner)
                    if not ship.alive:
                        targets = [
                            target for target in targets if target[1] is not ship
                        ]
                    break
        while self.feed and (
            len(self.feed) > self.feed_size
            or self.feed[0][0] < self.time - self.feed_for
        ):
            self.feed.pop(0)

    def _hit(self, ship: Ship, shooter: str) -> None:
        ship.hp -= 1
        if ship.hp <= 0:
            ship.respawn_in = self.respawn_delay
            ship.back_at = self.time + self.respawn_delay
            ship.firing = False
            scorer = self.ships.get(shooter)
            ship.killed_by = scorer.name if scorer is not None else 'a ship that left'
            if scorer is not None:
                scorer.score += 1
            self.feed.append((round(self.time, 2), ship.killed_by, ship.name))

    # -- what players see --------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The arena as players see it; ``t`` is the game time in seconds."""
        # rounded: a tenth of a pixel is invisible, and unchanged digits
        # keep a still ship out of the delta
        return {
            'arena': {'w': self.width, 'h': self.height, 'r': self.radius},
            'players': {id: self._ship_state(ship) for id, ship in self.ships.items()},
            'feed': [list(kill) for kill in self.feed],
            # a bullet flies straight: sent once, when fired (where, when,
            # how fast), it costs nothing more until it hits or expires;
            # clients compute where it is now
            'bullets': dict(self._bullet_views_now()),
        }

    def _bullet_views_now(self) -> list[tuple[str, dict[str, float]]]:
        views = self._bullet_views
        if len(views) > len(self.bullets):  # forget the bullets gone
            for key in views.keys() - self.bullets.keys():
                del views[key]
        now = []
        for key, b in self.bullets.items():
            view = views.get(key)
            if view is None:
                view = views[key] = (
                    str(key),
                    {
                        'x': round(b.x0, 1),
                        'y': round(b.y0, 1),
                        'vx': round(b.vx, 1),
                        'vy': round(b.vy, 1),
                        't': round(b.fired, 3),
                    },
                )
            now.append(view)
        return now

    def _ship_state(self, ship: Ship) -> dict[str, Any]:
        state: dict[str, Any] = {
            'name': ship.name,
            'bot': ship.bot,
            'x': round(ship.x, 1),
            'y': round(ship.y, 1),
            'aim': round(ship.aim, 2),
            'hp': ship.hp,
            'score': ship.score,
            'ack': ship.ack,
        }
        # (only while true: absent keys cost nothing in a delta)
        if ship.shielded(self.time) and ship.alive:
            state['shield'] = 1
        if ship.away:
            state['away'] = 1
        if not ship.alive:
            state['down'] = [ship.killed_by, round(ship.back_at, 2)]
        return state

    # -- checkpoints -------------------------------------------------------

    def checkpoint(self) -> dict[str, Any]:
        return {
            'time': self.time,
            'next_bullet': self._next_bullet,
            'ships': {id: asdict(ship) for id, ship in self.ships.items()},
            'bullets': {str(key): asdict(b) for key, b in self.bullets.items()},
            'minds': {id: asdict(mind) for id, mind in self._minds.items()},
            'feed': [list(kill) for kill in self.feed],
        }

    def restore(self, state: dict[str, Any]) -> None:
        # every record is checked field by field: a checkpoint of another
        # shape raises here, before anything of it is kept
        ships = {str(id): _record(Ship, d) for id, d in state['ships'].items()}
        bullets = {int(k): _record(Bullet, d) for k, d in state['bullets'].items()}
        minds = {str(id): _record(_BotMind, d) for id, d in state['minds'].items()}
        feed = [
            (float(t), str(killer), str(victim)) for t, killer, victim in state['feed']
        ]
        time, next_bullet = float(state['time']), int(state['next_bullet'])
        self.ships, self.bullets, self._minds, self.feed = ships, bullets, minds, feed
        self.time, self._next_bullet = time, next_bullet
        self._bullet_views = {}

    # -- bots --------------------------------------------------------------

    def bot_input(self, player: Player) -> ArenaInput | None:
        ship = self.ships.get(player.id)
        mind = self._minds.get(player.id)
        if ship is None or mind is None or not ship.alive:
            return None
        mind.retarget_in -= 1
        target = self.ships.get(mind.target) if mind.target else None
        if target is None or not target.targetable(self.time) or mind.retarget_in <= 0:
            mind.target = self._nearest(player.id, ship)
            mind.retarget_in = self.rng.randint(20, 60)
            mind.wander = self.rng.uniform(-math.pi, math.pi)
            target = self.ships.get(mind.target) if mind.target else None
        slow = self.bot_speed
        if target is None:
            return ArenaInput(
                dx=math.cos(mind.wander) * slow, dy=math.sin(mind.wander) * slow
            )
        ax, ay = target.x - ship.x, target.y - ship.y
        distance = math.hypot(ax, ay) or 1.0
        error = self.bot_aim_error
        aim = math.atan2(ay, ax) + self.rng.uniform(-error, error)
        aim = max(-math.pi, min(math.pi, aim))
        # close in, then circle the target
        if distance > 220:
            dx, dy = ax / distance, ay / distance
        else:
            dx, dy = -ay / distance * mind.strafe, ax / distance * mind.strafe
        return ArenaInput(
            dx=dx * slow, dy=dy * slow, aim=aim, fire=distance < self.bot_sight
        )

    def _nearest(self, me: str, ship: Ship) -> str | None:
        best, best_distance = None, math.inf
        for id, other in self.ships.items():
            if id == me or not other.targetable(self.time):
                continue
            distance = math.hypot(other.x - ship.x, other.y - ship.y)
            if distance < best_distance:
                best, best_distance = id, distance
        return best


def _clamp(value: float, low: float, high: float) -> float:
    return low if value < low else high if value > high else value


def _record(cls: type[_Record], data: dict[str, Any]) -> _Record:
    """A ``cls`` dataclass from a checkpoint's dict, every field of the right type."""
    expected = {field.name: field.type for field in fields(cls)}  # type: ignore[arg-type]
    if set(data) != set(expected):
        raise ValueError(
            f'{cls.__name__} fields {sorted(data)}: expected {sorted(expected)}'
        )
    for name, kind in expected.items():
        value = data[name]
        ok = {
            'float': isinstance(value, int | float) and not isinstance(value, bool),
            'int': isinstance(value, int) and not isinstance(value, bool),
            'bool': isinstance(value, bool),
            'str': isinstance(value, str),
            'str | None': value is None or isinstance(value, str),
        }.get(str(kind), False)
        if not ok:
            raise ValueError(f'{cls.__name__}.{name} = {value!r}: expected {kind}')
    return cls(**data)
