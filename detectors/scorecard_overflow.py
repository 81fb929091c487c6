"""The region's diversions for the scorecard, read back from the OverflowCommands the policy
(or an operator) issued.

Apart from :mod:`detectors.scorecard` because it is a reading of a command log, not of call
counts: commands are de-duplicated, ordered and folded into episodes (an activate, the adjusts
that keep it going, a deactivate or lapse that ends it), and a row only asks an episode when it
started and how long of a span it was in force. Not graded.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OverflowCommand:
    """The fields of an OverflowCommand record (DESIGN.md) the scorecard reads; epoch seconds."""

    command_id: str
    region: str
    action: str  # activate | adjust | deactivate
    target: str | None
    issued_at_s: float
    expires_at_s: float
    issued_by: str  # auto | operator:<id>


@dataclass(frozen=True, slots=True)
class OverflowEpisode:
    """One diversion of a region's new calls: from the activate that started it (or from the
    first command seen, if it was under way before them) up to the next activate. It is in
    force in `spans`: each activate or adjust from its issue until its expires_at (a command
    nobody renews lapses, as the receiving systems apply it) or the region's next command,
    which replaces it (a deactivate ends it). A hand-back after an operator's override lapsed,
    or a refresh after a monitor outage, is an adjust: the same diversion, resumed."""

    region: str
    started_by: str  # issued_by of the first command: auto or operator:<id>
    activated: bool  # started by an activate among the commands (False: under way before them)
    targets: tuple[str, ...]  # the regions that took the overflow, in order, each once
    spans: tuple[tuple[float, float], ...]  # [start, end) in epoch seconds, in order

    @property
    def start_s(self) -> float:
        return self.spans[0][0]

    @property
    def end_s(self) -> float:
        return self.spans[-1][1]

    def seconds_within(self, start_s: float, end_s: float) -> float:
        """Seconds of [start_s, end_s) in force."""
        return sum(max(0.0, min(b, end_s) - max(a, start_s)) for a, b in self.spans)


def overflow_episodes(commands: Iterable[OverflowCommand]) -> list[OverflowEpisode]:
    """The diversions the commands made, by region and start. Each region's commands are taken
    in issue order (ties in the order given: a topic partition's); a command_id seen again (an
    acknowledgement republishes the command, a crash may re-issue one) counts once."""
    seen: set[str] = set()
    by_region: dict[str, list[OverflowCommand]] = {}
    for c in commands:
        if c.command_id not in seen:
            seen.add(c.command_id)
            by_region.setdefault(c.region, []).append(c)
    out: list[OverflowEpisode] = []
    for region, unsorted in sorted(by_region.items()):
        cmds = sorted(unsorted, key=lambda c: c.issued_at_s)
        # (started_by, activated, targets, spans) of the region's episodes, the last one open
        episodes: list[tuple[str, bool, list[str], list[tuple[float, float]]]] = []
        for i, c in enumerate(cmds):
            if c.action == "deactivate":
                continue  # it ends the previous command's span (below: the next command)
            if c.action == "activate" or not episodes:
                episodes.append((c.issued_by, c.action == "activate", [], []))
            _, _, targets, spans = episodes[-1]
            after = cmds[i + 1].issued_at_s if i + 1 < len(cmds) else math.inf
            spans.append((c.issued_at_s, min(c.expires_at_s, after)))
            if c.target is not None and c.target not in targets:
                targets.append(c.target)
        for by, activated, targets, spans in episodes:
            out.append(OverflowEpisode(region, by, activated, tuple(targets), tuple(spans)))
    return out
