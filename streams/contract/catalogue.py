"""The region catalogue: which regions and providers exist, and who can take whose overflow.

Region codes are the contract (topic keys, metric labels), so the catalogue is validated hard at
start-up: a typo here would otherwise silently dead-letter a whole region's traffic.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path

from streams.contract.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Provider:
    id: str
    name: str
    share: float
    staffing: float


@dataclass(frozen=True, slots=True)
class Region:
    code: str
    name: str
    ambulance_service: str
    population_share: float
    neighbours: tuple[str, ...]
    providers: tuple[Provider, ...]

    def provider_ids(self) -> tuple[str, ...]:
        return tuple(p.id for p in self.providers)


@dataclass(frozen=True, slots=True)
class Catalogue:
    regions: tuple[Region, ...]
    # Lookups by code, derived from `regions`: validation asks them for every event.
    by_code: dict[str, Region] = field(init=False, compare=False, repr=False)
    provider_sets: dict[str, frozenset[str]] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_code", {r.code: r for r in self.regions})
        providers = {r.code: frozenset(r.provider_ids()) for r in self.regions}
        object.__setattr__(self, "provider_sets", providers)

    def codes(self) -> tuple[str, ...]:
        return tuple(self.by_code)

    def region(self, code: str) -> Region:
        return self.by_code[code]

    def pairs(self) -> tuple[tuple[str, str], ...]:
        """Every (region, provider) pair, for pre-initialising metric labels."""
        return tuple((r.code, p.id) for r in self.regions for p in r.providers)


def _fail(source: str, what: str) -> ConfigError:
    return ConfigError(f"region catalogue {source}: {what}")


def parse_catalogue(text: str, source: str = "<string>") -> Catalogue:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(source, f"is not valid TOML ({exc})") from exc
    raw_regions = doc.get("regions")
    if not isinstance(raw_regions, dict) or not raw_regions:
        raise _fail(source, "needs a [regions.<code>] table for each region")
    regions: list[Region] = []
    for code, raw in raw_regions.items():
        regions.append(_parse_region(source, code, raw))
    codes = {r.code for r in regions}
    for r in regions:
        unknown = [n for n in r.neighbours if n not in codes or n == r.code]
        if unknown:
            raise _fail(
                source, f"region {r.code!r} names neighbours {unknown} not in the catalogue"
            )
    return Catalogue(tuple(regions))


def _parse_region(source: str, code: str, raw: object) -> Region:
    if not isinstance(raw, dict):
        raise _fail(source, f"region {code!r} must be a table")
    if not code or code != code.lower() or not code.replace("-", "").isalnum():
        raise _fail(source, f"region code {code!r} must be lower-case letters, digits and '-'")
    allowed = {"name", "ambulance_service", "population_share", "neighbours", "providers"}
    extra = set(raw) - allowed
    if extra:
        raise _fail(source, f"region {code!r} has unknown keys {sorted(extra)}")
    try:
        share = float(raw["population_share"])
        providers = tuple(
            Provider(
                id=str(p["id"]),
                name=str(p["name"]),
                share=float(p["share"]),
                staffing=float(p.get("staffing", 1.0)),
            )
            for p in raw["providers"]
        )
        region = Region(
            code=code,
            name=str(raw["name"]),
            ambulance_service=str(raw.get("ambulance_service", "")),
            population_share=share,
            neighbours=tuple(str(n) for n in raw.get("neighbours", [])),
            providers=providers,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise _fail(source, f"region {code!r} is missing or mistypes {exc}") from exc
    if not 0 < share <= 1:
        raise _fail(source, f"region {code!r} population_share must be in (0, 1]")
    if not providers:
        raise _fail(source, f"region {code!r} needs at least one provider")
    if len({p.id for p in providers}) != len(providers):
        raise _fail(source, f"region {code!r} lists a provider twice")
    if not math.isclose(sum(p.share for p in providers), 1.0, abs_tol=1e-6):
        raise _fail(source, f"region {code!r} provider shares must sum to 1")
    if any(p.staffing <= 0 for p in providers):
        raise _fail(source, f"region {code!r} provider staffing must be > 0")
    return region


def load_catalogue(path: Path | None = None) -> Catalogue:
    """The catalogue at `path`, or the packaged default."""
    if path is None:
        return default_catalogue()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read region catalogue {path}: {exc.strerror}") from exc
    return parse_catalogue(text, str(path))


@cache
def default_catalogue() -> Catalogue:
    text = resources.files(__package__).joinpath("catalogue.toml").read_text(encoding="utf-8")
    return parse_catalogue(text, "streams/contract/catalogue.toml")
