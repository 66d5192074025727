"""Regenerate examples/museum.ttl, the small multimodal graph the README uses.

A made-up museum: artworks by artists, held in museums, with a year (xsd:gYear), an
acquisition date (xsd:date), a width (xsd:decimal), a title in English and Dutch
(rdf:langString), a thumbnail (base64 PNG, kgbench's base64Image datatype), the spot
where it was painted (geo:wktLiteral) and whether it is on display (xsd:boolean).
The class to predict is ``ex:movement`` (baroque / impressionism / cubism).

The graph is built so that an ablation teaches something: every modality carries part
of the answer and none carries all of it, and structure alone carries little.

* Each signal-bearing literal of a work follows the work's own movement with
  probability ``FOLLOW[modality]`` and a random movement otherwise (independently per
  modality), so one modality alone is right about that often, and several together
  are right far more often.
* The year comes from the followed movement's period; the thumbnail's palette, the
  title's word and the painting region likewise; the width's distribution differs a
  little by movement (overlapping); on display is a weak coin.
* Artists and museums are shared across movements: a work's creator is one of its own
  movement's artists with probability ``OWN_ARTIST`` only, so the graph's structure
  alone predicts the movement a little better than chance, not more.

Run: python examples/make_museum.py > examples/museum.ttl
"""
from __future__ import annotations

import base64
import io
import random

from PIL import Image

WORKS_PER_MOVEMENT = 60
ARTISTS_PER_MOVEMENT = 4
MUSEUMS = ("rijks", "orsay", "picasso", "prado")
#: probability that a work's literal of this modality follows its own movement
FOLLOW = {"temporal": 0.75, "visual": 0.75, "textual": 0.75, "spatial": 0.75, "numeric": 0.6, "boolean": 0.6}
#: probability that a work's creator is an artist of its own movement (else any artist)
OWN_ARTIST = 0.4
#: share of works with a thumbnail (not every work has been photographed yet)
PHOTOGRAPHED = 0.65

MOVEMENTS = {
    # name: (year range, base colour, rough painting region (lon, lat), width cm (mean, sd), share on display)
    "baroque": ((1600, 1700), (120, 70, 20), (4.9, 52.3), (150, 45), 0.35),
    "impressionism": ((1860, 1890), (90, 150, 220), (2.3, 48.8), (80, 30), 0.65),
    "cubism": ((1907, 1925), (150, 150, 140), (2.2, 41.4), (110, 35), 0.5),
}
NAMES = list(MOVEMENTS)
WORDS = {
    "baroque": ["portrait", "merchant", "candle", "still life", "guild"],
    "impressionism": ["garden", "water lilies", "boats", "morning", "poppies"],
    "cubism": ["guitar", "violin", "bottle", "newspaper", "figure"],
}
DUTCH = {"portrait": "portret", "merchant": "koopman", "candle": "kaars", "still life": "stilleven",
         "guild": "gilde", "garden": "tuin", "water lilies": "waterlelies", "boats": "boten",
         "morning": "ochtend", "poppies": "klaprozen", "guitar": "gitaar", "violin": "viool",
         "bottle": "fles", "newspaper": "krant", "figure": "figuur"}


def thumbnail(rng: random.Random, colour: tuple[int, int, int]) -> str:
    img = Image.new("RGB", (8, 8))
    img.putdata([tuple(max(0, min(255, c + rng.randint(-50, 50))) for c in colour) for _ in range(64)])
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return base64.urlsafe_b64encode(buf.getvalue()).decode()


def follow(rng: random.Random, movement: str, modality: str) -> str:
    """The movement a literal of ``modality`` follows: the work's own, or a random one."""
    return movement if rng.random() < FOLLOW[modality] else rng.choice(NAMES)


def main() -> None:
    rng = random.Random(7)
    print("@prefix ex: <http://example.org/museum#> .")
    print("@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .")
    print("@prefix geo: <http://www.opengis.net/ont/geosparql#> .")
    print("@prefix kgb: <http://kgbench.info/dt#> .")
    print("@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .")
    print()
    for m in MUSEUMS:
        print(f"ex:{m} a ex:Museum ; rdfs:label \"{m.title()}\"@en ;")
        x = rng.uniform(-5, 5)
        print(f"    geo:asWKT \"POLYGON(({x:.3f} 50, {x + 0.2:.3f} 50, {x + 0.2:.3f} 50.1, {x:.3f} 50.1, {x:.3f} 50))\"^^geo:wktLiteral .")
    print()
    artists: dict[str, list[int]] = {}
    a = 0
    for movement in NAMES:
        artists[movement] = []
        for _ in range(ARTISTS_PER_MOVEMENT):
            # the birth year is no giveaway: artists' careers straddle the movements
            print(f"ex:artist{a} a ex:Artist ; ex:bornIn \"{rng.randint(1550, 1890)}\"^^xsd:gYear .")
            artists[movement].append(a)
            a += 1
    every_artist = [x for xs in artists.values() for x in xs]
    print()
    works = [m for m in NAMES for _ in range(WORKS_PER_MOVEMENT)]
    rng.shuffle(works)  # work numbers say nothing about the movement
    for n, movement in enumerate(works):
        (y0, y1), *_ = MOVEMENTS[follow(rng, movement, "temporal")]
        _, colour, *_ = MOVEMENTS[follow(rng, movement, "visual")]
        _, _, (lon, lat), *_ = MOVEMENTS[follow(rng, movement, "spatial")]
        *_, (w_mean, w_sd), _ = MOVEMENTS[follow(rng, movement, "numeric")]
        *_, on_display = MOVEMENTS[follow(rng, movement, "boolean")]
        word = rng.choice(WORDS[follow(rng, movement, "textual")])
        creator = rng.choice(artists[movement] if rng.random() < OWN_ARTIST else every_artist)
        title = f"{rng.choice(['The', 'A', 'Study of a', 'Evening'])} {word}".replace("Evening The", "Evening")
        month, day = rng.randint(1, 12), rng.randint(1, 28)
        lon_, lat_ = lon + rng.uniform(-1.5, 1.5), lat + rng.uniform(-1.5, 1.5)
        width = max(15.0, rng.gauss(w_mean, w_sd))
        print(f"ex:work{n} a ex:Artwork ;")
        print(f"    ex:movement ex:{movement} ;")
        print(f"    ex:creator ex:artist{creator} ;")
        print(f"    ex:heldBy ex:{rng.choice(MUSEUMS)} ;")
        print(f"    ex:title \"{title}\"@en , \"{DUTCH[word]} ({n})\"@nl ;")
        print(f"    ex:year \"{rng.randint(y0, y1)}\"^^xsd:gYear ;")
        print(f"    ex:acquired \"{rng.randint(1880, 2020)}-{month:02d}-{day:02d}\"^^xsd:date ;")
        print(f"    ex:widthCm \"{width:.1f}\"^^xsd:decimal ;")
        print(f"    ex:onDisplay \"{'true' if rng.random() < on_display else 'false'}\"^^xsd:boolean ;")
        thumb = f" ;\n    ex:thumbnail \"{thumbnail(rng, colour)}\"^^kgb:base64Image" if rng.random() < PHOTOGRAPHED else ""
        print(f"    ex:paintedAt \"POINT({lon_:.4f} {lat_:.4f})\"^^geo:wktLiteral{thumb} .")
    # Quirks a real graph has, kept on purpose: an impossible date and a broken image.
    print('ex:work0 ex:restored "1990-02-30"^^xsd:date .')
    print('ex:work1 ex:scan "bm90IGFuIGltYWdl"^^kgb:base64Image .')


if __name__ == "__main__":
    main()
