"""The launch-day scorecard's HTML report rendered by headless Chromium (Debian's `chromium`):
its tables and plots load, and a screenshot of it is kept with the test's artefacts."""

from __future__ import annotations

import base64
import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from streams.cli.rota import read_rota_file
from streams.contract.catalogue import default_catalogue
from streams.contract.config import load_settings
from streams.offline import scorecard, scorecard_report
from tests.scorecard_cases import (
    FAILING,
    GOOD_FRIDAY_2013_08Z,
    HOURS,
    launch_day_scorecard,
    write_launch_day_staffed,
)

CHROMIUM = shutil.which("chromium")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Debian's chromium package is not installed (deploy/setup.sh installs it)",
)
WINDOW = (1280, 2000)
PASS_GREEN = (0xD4, 0xED, 0xDA)  # td.pass and td.fail backgrounds of the report's CSS
FAIL_RED = (0xF8, 0xD0, 0xD3)

# Appended to a copy of the report: after load, record what the browser made of it in the DOM.
CHECK_SCRIPT = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const marker = document.createElement("div");
  marker.id = "render-check";
  marker.dataset.images = images.length;
  marker.dataset.decoded = images.filter(i => i.complete && i.naturalWidth > 0).length;
  marker.dataset.rows = document.querySelectorAll("table.summary tbody tr").length;
  marker.dataset.failing = document.querySelectorAll('tr[data-result="fail"]').length;
  document.body.appendChild(marker);
});
</script>"""


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless Chromium as root in a container: no sandbox, no GPU, nothing phoning home."""
    assert CHROMIUM is not None
    argv = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        *args,
    ]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[scorecard.Scorecard, Path]:
    folder = tmp_path_factory.mktemp("scorecard")
    result = launch_day_scorecard(folder)
    _, html_path = scorecard_report.write(result, default_catalogue(), folder / "report")
    return result, html_path


@pytest.fixture(scope="module")
def staffed_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[scorecard.Scorecard, Path]:
    """The launch day with agent states, scored with the generator's rota (`--rota`)."""
    folder = tmp_path_factory.mktemp("staffed")
    events, rota = write_launch_day_staffed(folder)
    catalogue = default_catalogue()
    request = scorecard.Request(GOOD_FRIDAY_2013_08Z, GOOD_FRIDAY_2013_08Z + HOURS * 3600)
    result = scorecard.compute(
        request,
        load_settings({}),
        catalogue,
        file=events,
        rota=read_rota_file(rota, catalogue),
        rota_source=str(rota),
    )
    _, html_path = scorecard_report.write(result, catalogue, folder / "report")
    return result, html_path


# After load: the staff-hours table's rows and failing rows, and whether its plot decoded.
STAFF_CHECK_SCRIPT = """<script>
window.addEventListener("load", () => {
  const plot = document.querySelector("img.staff-plot");
  const marker = document.createElement("div");
  marker.id = "staff-check";
  marker.dataset.rows = document.querySelectorAll("table.staff tbody tr").length;
  marker.dataset.failing = document.querySelectorAll('table.staff tr[data-staff="fail"]').length;
  marker.dataset.plotted = plot && plot.complete && plot.naturalWidth > 0 ? 1 : 0;
  marker.dataset.named = document.querySelectorAll("p.staff-short span[data-provider]").length;
  document.body.appendChild(marker);
});
</script>"""


def test_chromium_renders_the_staff_hours_plot_and_table(
    staffed_report: tuple[scorecard.Scorecard, Path], tmp_path: Path
) -> None:
    """With agent states and a rota the report's staff-hours table has a row per provider, the
    two failing ones red and named as not having delivered what was commissioned, and the
    staff-hours plot decodes in Chromium."""
    result, html_path = staffed_report
    checked = tmp_path / "checked.html"
    page = html_path.read_text("utf-8")
    checked.write_text(page.replace("</body>", STAFF_CHECK_SCRIPT + "</body>"), "utf-8")
    dom = chromium(
        tmp_path / "profile", "--virtual-time-budget=5000", "--dump-dom", checked.as_uri()
    ).stdout
    marker = re.search(r'<div id="staff-check"([^>]*)>', dom)
    assert marker is not None, dom[:2000]
    found = dict(re.findall(r'data-(\w+)="(\d+)"', marker.group(1)))
    assert found == {
        "rows": str(len(result.rows)),
        "failing": str(len(FAILING)),
        "plotted": "1",
        "named": str(len(FAILING)),
    }
    failing = set(re.findall(r'<tr data-region="([^"]+)"[^>]*data-staff="fail"', dom))
    assert failing == FAILING
    assert "have not delivered what was commissioned" in dom


def test_embedded_plots_are_pngs_one_per_provider(
    report: tuple[scorecard.Scorecard, Path],
) -> None:
    """Every <img> is an embedded PNG that decodes, one per provider of the scorecard."""
    result, html_path = report
    sources = re.findall(r'src="data:image/png;base64,([^"]+)"', html_path.read_text("utf-8"))
    assert len(sources) == len({(r.region, r.provider) for r in result.rows})
    for data in sources:
        with Image.open(io.BytesIO(base64.b64decode(data, validate=True))) as image:
            assert image.format == "PNG"
            assert image.size == (900, 500)


def test_chromium_renders_the_tables_and_plots(
    report: tuple[scorecard.Scorecard, Path], tmp_path: Path
) -> None:
    """In Chromium the summary has a row per provider, the failing ones marked, and every plot
    image has decoded (naturalWidth > 0)."""
    result, html_path = report
    checked = tmp_path / "checked.html"
    checked.write_text(
        html_path.read_text("utf-8").replace("</body>", CHECK_SCRIPT + "</body>"), "utf-8"
    )
    dom = chromium(
        tmp_path / "profile", "--virtual-time-budget=5000", "--dump-dom", checked.as_uri()
    ).stdout
    marker = re.search(r'<div id="render-check"([^>]*)>', dom)
    assert marker is not None, dom[:2000]
    found = dict(re.findall(r'data-(\w+)="(\d+)"', marker.group(1)))
    providers = len(result.rows)
    assert found == {
        "images": str(providers),
        "decoded": str(providers),
        "rows": str(providers),
        "failing": str(len(FAILING)),
    }
    assert "<th>Service level<br>" in dom
    assert "<th>Overflow<br>(activations)</th>" in dom  # the policy's commands were given


def test_screenshot_is_a_non_blank_page_with_pass_and_fail_colours(
    report: tuple[scorecard.Scorecard, Path], tmp_path: Path
) -> None:
    """A 1280x2000 screenshot of the report is a real picture showing pass and fail cells."""
    _, html_path = report
    shot = tmp_path / "scorecard.png"
    chromium(
        tmp_path / "profile",
        f"--screenshot={shot}",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
        html_path.as_uri(),
    )
    print(f"scorecard screenshot: {shot}")  # the artefact, for a human to look at
    with Image.open(shot) as image:
        assert image.format == "PNG"
        assert image.size == WINDOW
        pixels = image.convert("RGB")
        colours = pixels.getcolors(maxcolors=WINDOW[0] * WINDOW[1])
    assert colours is not None
    assert len(colours) > 100  # text, tables and a plot, not one flat colour
    counts = {rgb: n for n, rgb in colours}
    assert counts.get(PASS_GREEN, 0) > 1000
    assert counts.get(FAIL_RED, 0) > 1000
