"""A tiny game for the room tests: each player's counter, pushed by inputs."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Annotated, Any

from aiotao.game.rules import GameRules, InvalidInput, Player
from aiotao.websocket.schema import Range


@dataclass
class Push:
    n: Annotated[int, Range(0, 10)] = 1


class Counters(GameRules[Push]):
    input_schema = Push
    max_players = 3

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.counts: dict[str, int] = {}
        self.left: list[str] = []
        self.steps = 0
        self.fail = False

    def on_join(self, player: Player) -> None:
        self.counts[player.id] = 0

    def on_leave(self, player: Player) -> None:
        del self.counts[player.id]
        self.left.append(player.id)

    def on_input(self, player: Player, input: Push) -> None:
        if input.n == 0:
            raise InvalidInput('pushing by zero does nothing')
        self.counts[player.id] += input.n

    def step(self, dt: float) -> None:
        if self.fail:
            raise RuntimeError('a bug in step')
        self.steps += 1

    def snapshot(self) -> dict[str, Any]:
        return {'counts': dict(self.counts)}

    def bot_input(self, player: Player) -> Push:
        return Push(2)
