"""The arena's rules without sockets: movement, authority, firing, hits, bots."""

from __future__ import annotations

import math
import random

import pytest
from aiotao_demo.arena import Arena, ArenaInput

from aiotao.game.rules import InvalidInput, Player
from aiotao.websocket.schema import Schema, SchemaError

DT = 0.05


def arena_with(*names: str, seed: int = 7) -> tuple[Arena, list[Player]]:
    arena = Arena(random.Random(seed))
    players = [Player(f'p{n}', name) for n, name in enumerate(names, 1)]
    for player in players:
        arena.on_join(player)
    return arena, players


def place(arena: Arena, player: Player, x: float, y: float) -> None:
    """Put a ship at ``x, y``, its spawn protection over."""
    arena.ships[player.id].x = x
    arena.ships[player.id].y = y
    arena.ships[player.id].shielded_until = 0.0


def play_bots(arena: Arena, bots: list[Player]) -> None:
    for bot in bots:
        bot_input = arena.bot_input(bot)
        if bot_input is not None:
            arena.on_input(bot, bot_input)


def newcomer_among_bots(
    seed: int, seconds: float, play: bool
) -> tuple[Arena, list[float]]:
    """A newcomer joins four bots that have been fighting; when it is dead.

    ``play``: it plays as a person new to the game would (aims at the
    nearest ship, shakily, circles it, fires in range); else it stands still.
    """
    arena = Arena(random.Random(seed))
    bots = [Player(f'b{n}', f'bot {n}', bot=True) for n in range(4)]
    for bot in bots:
        arena.on_join(bot)
    for _ in range(40):
        play_bots(arena, bots)
        arena.step(DT)
    me = Player('me', 'newcomer')
    arena.on_join(me)
    hand = random.Random(seed + 100)
    dead_at = []
    for tick in range(round(seconds / DT)):
        play_bots(arena, bots)
        ship = arena.ships['me']
        target = arena._nearest('me', ship) if play and ship.alive else None
        if target is not None:
            other = arena.ships[target]
            ax, ay = other.x - ship.x, other.y - ship.y
            distance = math.hypot(ax, ay) or 1.0
            aim = math.atan2(ay, ax) + hand.uniform(-0.12, 0.12)
            dx, dy = (ax, ay) if distance > 250 else (-ay, ax)
            arena.on_input(
                me,
                ArenaInput(
                    dx=dx / distance,
                    dy=dy / distance,
                    aim=max(-math.pi, min(math.pi, aim)),
                    fire=distance < 420,
                ),
            )
        arena.step(DT)
        if not arena.ships['me'].alive:
            dead_at.append(tick * DT)
    return arena, dead_at


def test_a_tick_moves_a_ship_by_speed_times_dt() -> None:
    arena, [ana] = arena_with('ana')
    place(arena, ana, 400, 300)
    arena.on_input(ana, ArenaInput(dx=1, dy=0))
    for _ in range(4):
        arena.step(DT)
    assert arena.ships['p1'].x == pytest.approx(400 + 4 * Arena.speed * DT)
    assert arena.ships['p1'].y == pytest.approx(300)


def test_a_diagonal_is_no_faster_than_a_straight_line() -> None:
    arena, [ana] = arena_with('ana')
    place(arena, ana, 400, 300)
    arena.on_input(ana, ArenaInput(dx=1, dy=1))
    arena.step(DT)
    ship = arena.ships['p1']
    assert math.hypot(ship.x - 400, ship.y - 300) == pytest.approx(Arena.speed * DT)


def test_many_inputs_in_one_tick_move_no_further() -> None:
    # a client sending 50 inputs between two ticks does not go 50 times as far
    arena, [ana] = arena_with('ana')
    place(arena, ana, 400, 300)
    for _ in range(50):
        arena.on_input(ana, ArenaInput(dx=1))
    arena.step(DT)
    assert arena.ships['p1'].x == pytest.approx(400 + Arena.speed * DT)


def test_ships_stay_inside_the_arena() -> None:
    arena, [ana] = arena_with('ana')
    place(arena, ana, 30, 30)
    arena.on_input(ana, ArenaInput(dx=-1, dy=-1))
    for _ in range(100):
        arena.step(DT)
    ship = arena.ships['p1']
    assert (ship.x, ship.y) == (Arena.radius, Arena.radius)


def test_the_schema_refuses_impossible_inputs() -> None:
    schema: Schema[ArenaInput] = Schema(ArenaInput)
    assert schema.load({'dx': 0.5, 'fire': True}) == ArenaInput(dx=0.5, fire=True)
    for bad in (
        {'dx': 50},  # a speed, not a direction
        {'aim': 7},
        {'x': 900, 'y': 10},  # a position: not an input at all
        {'fire': 'yes'},
        {'dx': 'NaN'},
    ):
        with pytest.raises(SchemaError):
            schema.load(bad)


def test_holding_fire_shoots_at_the_cooldown_rate() -> None:
    arena, [ana] = arena_with('ana')
    place(arena, ana, 100, 300)
    shots = 0
    for _ in range(40):  # two seconds, fire held and re-sent every tick
        before = arena._next_bullet
        arena.on_input(ana, ArenaInput(fire=True))
        arena.on_input(ana, ArenaInput(fire=True))
        arena.step(DT)
        shots += arena._next_bullet - before
    assert shots == math.ceil(2.0 / Arena.fire_cooldown)


def test_a_bullet_hits_scores_and_the_dead_respawn() -> None:
    arena, [ana, bob] = arena_with('ana', 'bob')
    place(arena, ana, 100, 300)
    place(arena, bob, 300, 300)
    arena.on_input(ana, ArenaInput(aim=0, fire=True))
    for _ in range(Arena.max_hp * 12):
        arena.step(DT)
        if not arena.ships['p2'].alive:
            break
    assert not arena.ships['p2'].alive
    assert arena.ships['p1'].score == 1
    assert arena.ships['p2'].score == 0
    arena.on_input(ana, ArenaInput(fire=False))
    for _ in range(round(Arena.respawn_delay / DT) + 1):
        arena.step(DT)
    assert arena.ships['p2'].alive and arena.ships['p2'].hp == Arena.max_hp


def test_own_bullets_do_not_hit_the_shooter() -> None:
    arena, [ana] = arena_with('ana')
    place(arena, ana, 400, 300)
    arena.on_input(ana, ArenaInput(aim=0, fire=True))
    for _ in range(40):
        arena.step(DT)
    assert arena.ships['p1'].hp == Arena.max_hp


def test_input_for_a_player_without_a_ship_is_refused() -> None:
    arena, _ = arena_with()
    with pytest.raises(InvalidInput):
        arena.on_input(Player('p9', 'ghost'), ArenaInput())


def test_the_snapshot_is_json_and_the_delta_holds_only_what_changed() -> None:
    arena, [ana, bob] = arena_with('ana', 'bob')
    place(arena, ana, 400, 300)
    place(arena, bob, 200, 200)
    before = arena.snapshot()
    arena.on_input(ana, ArenaInput(dx=1))
    arena.step(DT)
    after = arena.snapshot()
    assert arena.delta(before, after) == {'players': {'p1': {'x': 410.0}}}
    arena.on_leave(bob)
    assert arena.delta(after, arena.snapshot()) == {'players': {'p2': None}}
    assert arena.delta(after, after) == {}


def test_bots_move_and_shoot_deterministically_with_a_seed() -> None:
    def play(seed: int) -> dict[str, object]:
        arena = Arena(random.Random(seed))
        bots = [Player(f'b{n}', f'bot {n}', bot=True) for n in range(4)]
        for bot in bots:
            arena.on_join(bot)
        start = {id: (s.x, s.y) for id, s in arena.ships.items()}
        fired = 0
        for _ in range(200):
            for bot in bots:
                bot_input = arena.bot_input(bot)
                if bot_input is not None:
                    arena.on_input(bot, bot_input)
            before = arena._next_bullet
            arena.step(DT)
            fired += arena._next_bullet - before
        moved = all((s.x, s.y) != start[id] for id, s in arena.ships.items())
        return {'snapshot': arena.snapshot(), 'fired': fired, 'moved': moved}

    first = play(3)
    assert first == play(3)
    assert first['moved'] and first['fired']
    assert sum(p['score'] for p in first['snapshot']['players'].values()) > 0  # type: ignore[index]


def test_a_flying_bullet_is_sent_once() -> None:
    arena, [ana] = arena_with('ana')
    place(arena, ana, 100, 300)
    arena.on_input(ana, ArenaInput(aim=0, fire=True))
    arena.step(DT)
    fired = arena.snapshot()
    [bullet] = fired['bullets'].values()
    assert bullet['vx'] == Arena.bullet_speed and bullet['t'] == DT
    arena.on_input(ana, ArenaInput(fire=False))
    arena.step(DT)
    # the bullet moved, but a client computes that: the delta leaves it out
    assert 'bullets' not in arena.delta(fired, arena.snapshot())
    for _ in range(round(Arena.bullet_ttl / DT)):
        arena.step(DT)
    assert arena.delta(fired, arena.snapshot())['bullets'] == {'0': None}


def test_a_new_ship_spawns_far_from_the_others_and_shielded() -> None:
    arena, [ana, bob] = arena_with('ana', 'bob')
    place(arena, ana, 480, 300)
    arena.on_leave(bob)
    arena.on_join(bob)
    ship = arena.ships['p2']
    assert math.hypot(ship.x - 480, ship.y - 300) > 250
    assert arena.snapshot()['players']['p2']['shield'] == 1
    # bullets pass through it...
    place(arena, ana, ship.x - 60, ship.y)
    arena.ships['p2'].shielded_until = arena.time + Arena.spawn_protection
    arena.on_input(ana, ArenaInput(aim=0, fire=True))
    for _ in range(10):
        arena.step(DT)
    assert arena.ships['p2'].hp == Arena.max_hp
    # ...until it is over, or the ship fires
    arena.on_input(bob, ArenaInput(aim=math.pi, fire=True))
    arena.step(DT)
    assert 'shield' not in arena.snapshot()['players']['p2']
    for _ in range(20):
        arena.step(DT)
    assert arena.ships['p2'].hp < Arena.max_hp


def test_a_death_says_by_whom_and_when_back_and_the_feed_lists_it() -> None:
    arena, [ana, bob] = arena_with('ana', 'bob')
    place(arena, ana, 100, 300)
    place(arena, bob, 300, 300)
    arena.on_input(ana, ArenaInput(aim=0, fire=True))
    while arena.ships['p2'].alive:
        arena.step(DT)
    snapshot = arena.snapshot()
    by, back = snapshot['players']['p2']['down']
    assert by == 'ana' and back == pytest.approx(
        arena.time + Arena.respawn_delay, abs=0.01
    )
    [[when, killer, victim]] = snapshot['feed']
    assert (killer, victim) == ('ana', 'bob') and when <= arena.time
    arena.on_input(ana, ArenaInput(fire=False))
    for _ in range(round(Arena.respawn_delay / DT) + 1):
        arena.step(DT)
    assert 'down' not in arena.snapshot()['players']['p2']
    for _ in range(round(Arena.feed_for / DT)):
        arena.step(DT)
    assert arena.snapshot()['feed'] == []


def test_an_away_ship_stays_still_and_cannot_be_hit_nor_targeted() -> None:
    arena, [ana, bob] = arena_with('ana', 'bob')
    place(arena, ana, 100, 300)
    place(arena, bob, 300, 300)
    arena.on_input(bob, ArenaInput(dx=1))
    arena.on_disconnect(bob)
    arena.on_input(ana, ArenaInput(aim=0, fire=True))
    for _ in range(40):
        arena.step(DT)
    assert arena.ships['p2'].hp == Arena.max_hp
    assert (arena.ships['p2'].x, arena.ships['p2'].y) == (300, 300)
    assert arena.snapshot()['players']['p2']['away'] == 1
    assert arena._nearest('p1', arena.ships['p1']) is None
    arena.on_reconnect(bob)
    assert 'away' not in arena.snapshot()['players']['p2']
    assert arena._nearest('p1', arena.ships['p1']) == 'p2'


def test_a_newcomer_standing_still_is_rarely_dead_and_never_at_once() -> None:
    # before spawn protection and far spawns: dead 36% of 20 s, once 2.5 s in
    for seed in range(10):
        _, dead_at = newcomer_among_bots(seed, 20.0, play=False)
        assert not dead_at or dead_at[0] > Arena.spawn_protection + 0.5
        assert len(dead_at) * DT < 0.2 * 20.0


def test_a_newcomer_playing_beats_the_bots() -> None:
    wins = 0
    for seed in range(10):
        arena, _ = newcomer_among_bots(seed, 60.0, play=True)
        scores = {id: ship.score for id, ship in arena.ships.items()}
        mine = scores.pop('me')
        wins += mine >= max(scores.values())
    assert wins >= 8
