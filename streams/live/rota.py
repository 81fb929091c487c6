"""The rota on every worker: the compacted rota topic read at start and every
`ROTA_REFRESH_SECONDS` into a detectors.rota.RotaIndex, which /metrics reads for
`surge_agents_rostered` and `surge_agents_commissioned` at each region's event time."""

from __future__ import annotations

import asyncio

import faust
import structlog

from detectors.rota import RotaIndex
from streams.contract.catalogue import Catalogue
from streams.contract.kafka_io import read_rota
from streams.contract.settings import Settings
from streams.live.metrics import Metrics

log = structlog.get_logger(__name__)

ROTA_REFRESH_SECONDS = 30.0


def register(app: faust.App, metrics: Metrics, catalogue: Catalogue, settings: Settings) -> None:
    async def refresh() -> None:
        try:
            latest = await asyncio.to_thread(read_rota, settings, catalogue)
        except Exception as exc:  # broker away: keep the plan we have, say so, try again later
            log.warning("rota_refresh_failed", topic=settings.topic_rota, error=str(exc))
            return
        index = RotaIndex(latest.values())
        if len(index) != len(metrics.rota):
            log.info("rota_loaded", topic=settings.topic_rota, intervals=len(index))
        metrics.rota = index

    @app.task  # type: ignore[untyped-decorator]  # Faust's stub
    async def load_rota() -> None:
        await refresh()

    @app.timer(interval=ROTA_REFRESH_SECONDS)  # type: ignore[untyped-decorator]  # Faust's stub
    async def refresh_rota() -> None:
        await refresh()
