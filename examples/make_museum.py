"""Regenerate examples/museum.ttl, the small multimodal graph the README uses.

A made-up museum: artworks by artists, held in museums, with a year (xsd:gYear), a
creation date (xsd:date), dimensions (xsd:decimal), a title in English and Dutch
(rdf:langString), a thumbnail (base64 PNG, kgbench's base64Image datatype), the spot
where it was painted (geo:wktLiteral) and whether it is on display (xsd:boolean).
The class to predict is ``ex:movement`` (baroque / impressionism / cubism); the year,
the palette of the thumbnail and the place carry the signal.

Run: python examples/make_museum.py > examples/museum.ttl
"""
from __future__ import annotations

import base64
import io
import random

from PIL import Image

MOVEMENTS = {
    # name: (year range, base colour, rough painting region (lon, lat))
    "baroque": ((1600, 1700), (120, 70, 20), (4.9, 52.3)),
    "impressionism": ((1860, 1890), (90, 150, 220), (2.3, 48.8)),
    "cubism": ((1907, 1925), (150, 150, 140), (2.2, 41.4)),
}
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
    img.putdata([tuple(max(0, min(255, c + rng.randint(-40, 40))) for c in colour) for _ in range(64)])
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return base64.urlsafe_b64encode(buf.getvalue()).decode()


def main() -> None:
    rng = random.Random(7)
    print("@prefix ex: <http://example.org/museum#> .")
    print("@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .")
    print("@prefix geo: <http://www.opengis.net/ont/geosparql#> .")
    print("@prefix kgb: <http://kgbench.info/dt#> .")
    print("@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .")
    print()
    for m in ("rijks", "orsay", "picasso"):
        print(f"ex:{m} a ex:Museum ; rdfs:label \"{m.title()}\"@en ;")
        x = rng.uniform(-5, 5)
        print(f"    geo:asWKT \"POLYGON(({x:.3f} 50, {x + 0.2:.3f} 50, {x + 0.2:.3f} 50.1, {x:.3f} 50.1, {x:.3f} 50))\"^^geo:wktLiteral .")
    print()
    for a in range(12):
        print(f"ex:artist{a} a ex:Artist ; ex:bornIn \"{rng.randint(1550, 1890)}\"^^xsd:gYear .")
    print()
    n = 0
    for movement, ((y0, y1), colour, (lon, lat)) in MOVEMENTS.items():
        for _ in range(40):
            year = rng.randint(y0, y1)
            word = rng.choice(WORDS[movement])
            title = f"{rng.choice(['The', 'A', 'Study of a', 'Evening'])} {word}".replace("Evening The", "Evening")
            month, day = rng.randint(1, 12), rng.randint(1, 28)
            lon_, lat_ = lon + rng.uniform(-1.5, 1.5), lat + rng.uniform(-1.5, 1.5)
            print(f"ex:work{n} a ex:Artwork ;")
            print(f"    ex:movement ex:{movement} ;")
            print(f"    ex:creator ex:artist{rng.randrange(12)} ;")
            print(f"    ex:heldBy ex:{rng.choice(['rijks', 'orsay', 'picasso'])} ;")
            print(f"    ex:title \"{title}\"@en , \"{DUTCH[word]} ({n})\"@nl ;")
            print(f"    ex:year \"{year}\"^^xsd:gYear ;")
            print(f"    ex:acquired \"{rng.randint(1880, 2020)}-{month:02d}-{day:02d}\"^^xsd:date ;")
            print(f"    ex:widthCm \"{rng.uniform(20, 250):.1f}\"^^xsd:decimal ;")
            print(f"    ex:onDisplay \"{rng.choice(['true', 'false'])}\"^^xsd:boolean ;")
            print(f"    ex:paintedAt \"POINT({lon_:.4f} {lat_:.4f})\"^^geo:wktLiteral ;")
            print(f"    ex:thumbnail \"{thumbnail(rng, colour)}\"^^kgb:base64Image .")
            n += 1
    # Quirks a real graph has, kept on purpose: an impossible date and a broken image.
    print('ex:work0 ex:restored "1990-02-30"^^xsd:date .')
    print('ex:work1 ex:scan "bm90IGFuIGltYWdl"^^kgb:base64Image .')


if __name__ == "__main__":
    main()
