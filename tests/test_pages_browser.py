"""Pages hothat writes, opened in a real headless Chromium with the internet cut off.

The simulation's HTML timeline is the picture a security strategist looks at in a rehearsal (and the desk draws
from a live trail): it must show every step and person, name no protected person, and need nothing but itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browser_kit import OfflinePage

from hothat.config import load_example
from hothat.testing import Simulation, render_html

pytestmark = pytest.mark.asyncio(loop_scope="session")
OX = load_example()


async def _timeline_page(tmp_path: Path) -> Path:
    async with Simulation(OX, start="2026-03-10T22:40") as sim:
        sim.person("per").never_answers()
        sim.person("anna").answers_after("12m", via="sms")
        await sim.report(kind="threat", severity="serious", party="s", targeted="lena")
        await sim.advance("2h")
        page = tmp_path / "tidslinje.html"
        page.write_text(render_html(sim.timeline, title="Gruppledaren svarar"), encoding="utf-8")
    return page


async def test_the_timeline_picture_renders_offline_and_names_no_protected_person(
    tmp_path: Path, offline_page: OfflinePage
) -> None:
    page = offline_page.page
    await page.goto((await _timeline_page(tmp_path)).as_uri())
    assert await page.locator("html").get_attribute("lang") == "sv"
    assert "Gruppledaren svarar" in await page.title()
    text = await page.locator("body").inner_text()
    assert "3.1.1" in text
    assert "Gruppledare" in text
    html = await page.content()  # people are named in each shape's tooltip
    assert "Anna Sjöberg (Gruppledare)" in html
    assert "Lena" not in html  # the targeted person has protected identity
    # A real picture, drawn at a readable size: the SVG has width and holds a shape per event.
    box = await page.locator("svg").first.bounding_box()
    assert box is not None
    assert box["width"] > 600
    assert box["height"] > 100
    assert await page.locator("svg *").count() > 20


async def test_the_browser_kit_catches_a_page_that_reaches_for_the_internet(tmp_path: Path, chromium: object) -> None:
    from browser_kit import open_offline

    page_file = tmp_path / "leaky.html"
    page_file.write_text(
        '<!doctype html><html lang="sv"><link rel="stylesheet" href="https://fonts.googleapis.com/css?family=Roboto">'
        '<img src="https://cdn.example.net/logo.png"><p>hej</p></html>',
        encoding="utf-8",
    )
    context, offline = await open_offline(chromium)  # type: ignore[arg-type]
    try:
        await offline.page.goto(page_file.as_uri())
    finally:
        await context.close()
    assert sorted(offline.outside) == [
        "https://cdn.example.net/logo.png",
        "https://fonts.googleapis.com/css?family=Roboto",
    ]
