"""Every chapter cites its sources (DESIGN.md, "Evidence").

Each notebook cites the papers that introduced what it builds with ``{cite:p}``/``{cite:t}``
from ``book/references.bib`` — at least a minimum number of works, and the primary sources
named below — and ends with a "References" section that lists them, written by
``tools/references.py`` from the bibliography. The book never points at the authoring material
(the ``shared`` folder beside the repository), which readers do not have.
"""

from __future__ import annotations

import pathlib
import re
import sys

import nbformat
import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tools"))
from course import ROOT, notebooks  # noqa: E402
from references import HEADING, CITATION, cited_keys, load_bibliography, references_cell_source  # noqa: E402

NOTEBOOKS = notebooks()
IDS = [p.name for p in NOTEBOOKS]
BIBLIOGRAPHY = load_bibliography()
MIN_CITED = 3

# The papers that introduced what each chapter builds: a chapter that drops one fails.
PRIMARY_SOURCES = {
    "01_dnn": {"rumelhart1986learning", "kingma2015adam"},
    "02_cnn": {"lecun1998gradient", "he2016deep", "ioffe2015batch", "srivastava2014dropout"},
    "03_rnn": {"elman1990finding", "werbos1990backpropagation", "bengio1994learning", "pascanu2013difficulty"},
    "04_lstm": {"hochreiter1997long", "gers2000learning", "cho2014learning"},
    "05_transformer": {"vaswani2017attention", "bahdanau2015neural", "ba2016layer", "papineni2002bleu"},
    "06_gpt": {"radford2018improving", "radford2019language", "holtzman2020curious"},
    "07_moe": {"shazeer2017outrageously", "lepikhin2021gshard", "fedus2022switch"},
    "08a_bestrq": {"chiu2022self", "gulati2020conformer", "baevski2020wav2vec"},
    "08b_hubert": {"hsu2021hubert"},
    "09_unet": {"ronneberger2015unet"},
    "10_diffusion": {"sohl2015deep", "ho2020denoising", "song2021denoising", "ho2021classifier"},
    "11_dit": {"dosovitskiy2021image", "peebles2023scalable"},
    "12_aspp_separation": {"chen2018deeplab", "vincent2006performance", "leroux2019sdr"},
    "13_reverbnet": {"kingma2014auto", "reverbnet2025"},
    "a1_anatomy": {"yep2020torchinfo", "fvcore2019", "sovrasov2018ptflops"},
    "a2_stability": {"glorot2010understanding", "he2016deep", "ioffe2015batch", "ba2016layer"},
    "a3_architecture_lab": {"kipf2017semi", "velickovic2018graph", "hamilton2017inductive"},
    "a4_scale_out": {"li2020pytorch", "rajbhandari2020zero", "zhao2023pytorch", "shoeybi2019megatron"},
}


def _read(path):
    return nbformat.read(path, as_version=4)


def test_every_notebook_has_its_primary_sources_listed_here():
    assert set(PRIMARY_SOURCES) == {p.stem for p in NOTEBOOKS}
    for keys in PRIMARY_SOURCES.values():
        assert keys <= set(BIBLIOGRAPHY), keys - set(BIBLIOGRAPHY)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_chapter_cites_its_primary_sources(path):
    cited = set(cited_keys(_read(path)))
    unknown = cited - set(BIBLIOGRAPHY)
    assert not unknown, f"{path.name} cites keys that book/references.bib lacks: {sorted(unknown)}"
    assert len(cited) >= MIN_CITED, f"{path.name} cites {len(cited)} works; a chapter cites at least {MIN_CITED}"
    missing = PRIMARY_SOURCES[path.stem] - cited
    assert not missing, f"{path.name} does not cite {sorted(missing)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_chapter_ends_with_its_references(path):
    nb = _read(path)
    last = nb.cells[-1]
    assert last.cell_type == "markdown" and last.source.startswith(HEADING), (
        f"{path.name} does not end with its {HEADING!r} section: run python tools/references.py")
    assert last.source == references_cell_source(nb, BIBLIOGRAPHY), (
        f"{path.name}: the References section is out of date: run python tools/references.py")


def test_every_bibliography_entry_is_cited_and_complete():
    cited = set()
    for path in NOTEBOOKS:
        cited |= set(cited_keys(_read(path)))
    for page in (ROOT / "book").glob("*.md"):
        for group in CITATION.findall(page.read_text(encoding="utf-8")):
            cited |= {key.strip() for key in group.split(",")}
    unused = set(BIBLIOGRAPHY) - cited
    assert not unused, f"book/references.bib holds entries nothing cites: {sorted(unused)}"
    for key, entry in BIBLIOGRAPHY.items():
        for field in ("title", "author", "year"):
            assert entry.get(field), f"{key}: no {field}"
        assert re.fullmatch(r"\d{4}", entry["year"]), f"{key}: year {entry['year']!r}"
        if "url" in entry:
            assert entry["url"].startswith("https://"), f"{key}: url must be https"


def test_the_book_never_points_at_the_authoring_material():
    roots = [ROOT / "code", ROOT / "tests", ROOT / "book", ROOT / "lessons", ROOT / "tools"]
    files = [ROOT / "README.md"] + [f for r in roots for f in r.rglob("*") if f.suffix in (".py", ".md", ".ipynb", ".yml", ".bib")]
    needle = "/".join(("..", "shared"))  # spelt in two pieces so that this file does not match itself
    offenders = [f.relative_to(ROOT).as_posix() for f in files if needle in f.read_text(encoding="utf-8", errors="ignore")]
    assert not offenders, f"these files point at {needle}, which readers do not have: {offenders}"
