"""Literals of the synthetic graph: numbers, dates, texts, images, polygons, booleans."""
from __future__ import annotations

import base64
import io
from collections import Counter
from typing import Iterable

import numpy as np

from rdf2mm.synthetic.output import _Syntax
from rdf2mm.synthetic.params import (
    _BAD,
    _ITEM_LITERALS,
    _S_GROUPS,
    _S_ITEMS,
    CHUNK_ITEMS,
    ENTITY_CHUNK,
    IMAGE_BATCH,
    MAX_CLASSES,
    SHAPES,
    GeneratorState,
)
from rdf2mm.vocab import GEO, KGB, RDF, XSD


#: item literal predicate -> its modality
_PREDICATE_MODALITY = {pred: m for m, preds in _ITEM_LITERALS.items() for pred, _ in preds}


def _vocabulary(k: int) -> tuple[list[str], list[list[str]]]:
    """Shared words and per-class words; fixed (seed-independent) so vocabularies are stable."""
    rng = np.random.default_rng(20_240_601)
    onsets = ["b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "st", "tr", "kl"]
    vowels = ["a", "e", "i", "o", "u", "ei", "oo", "au"]
    codas = ["", "", "n", "r", "s", "l", "k", "m"]
    n_shared, per_class = 400, 12
    seen: set[str] = set()
    words: list[str] = []
    while len(words) < n_shared + per_class * MAX_CLASSES:
        n_syl = int(rng.integers(2, 4))
        w = "".join(
            onsets[rng.integers(len(onsets))] + vowels[rng.integers(len(vowels))] + codas[rng.integers(len(codas))]
            for _ in range(n_syl)
        )
        if w not in seen:
            seen.add(w)
            words.append(w)
    # a few shared words exercise UTF-8 and escaping; text is joined from escaped words
    shared = words[: n_shared - 4] + ["café", "naïve", "coöperatie", '\\"quoted\\"']
    per = [words[n_shared + per_class * c : n_shared + per_class * (c + 1)] for c in range(k)]
    return shared, per


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    i = np.floor(h * 6).astype(int) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], axis=1)


class LiteralMixin(GeneratorState):
    """Literal lines of every modality, with planted signal and ill-typed forms (a part of the generator)."""

    # set by the generator (rdf2mm.synthetic.generator._Generator)
    n_images: int
    signal: set[str]
    carried: set[str]
    syn: _Syntax
    by_datatype: Counter[str]
    ill: Counter[str]
    quirks: Counter[str]
    shared_words: list[str]
    class_words: list[list[str]]

    def emit(
        self,
        rng: np.random.Generator,
        kind: str,
        ids: list[int],
        pred: str,
        lex: list[str],
        datatype: str | None,
        langs: list[str] | None = None,
    ) -> list[str]:
        """Lines for one literal predicate; a share ``ill_typed`` replaced by bad forms."""
        dt_iri = RDF + "langString" if langs is not None else (datatype or XSD + "string")
        bad = _BAD.get(dt_iri)
        carried = kind != "item" or _PREDICATE_MODALITY[pred] in self.carried
        if bad and self.p["ill_typed"] > 0:
            hit = np.flatnonzero(rng.random(len(lex)) < self.p["ill_typed"])
            choice = rng.integers(0, len(bad), len(hit))
            for j, b in zip(hit.tolist(), choice.tolist()):
                lex[j] = bad[b]
            self.ill[dt_iri] += len(hit) if carried else 0
        if not carried:
            # Drawn all the same (the same random stream as when every modality is carried),
            # but not written.
            return []
        self.by_datatype[dt_iri] += len(lex)
        # tags are labelled with rdfs:label, everything else uses ex: predicates
        o, c, pr = self.syn.ex_open, self.syn.close, self.syn.ex(pred) if pred != "label" else self.syn.rdfs_label
        if langs is not None:
            return [f'{o}{kind}_{i}{c} {pr} "{v}"@{lg} .\n' for i, v, lg in zip(ids, lex, langs)]
        d = self.syn.datatype(datatype)
        return [f'{o}{kind}_{i}{c} {pr} "{v}"{d} .\n' for i, v in zip(ids, lex)]

    def latent(self, modality: str, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The class each literal follows: the item's own with prob. strength if planted, else random."""
        rand = rng.integers(0, self.k, len(y))
        if modality not in self.signal:
            return rand
        return np.where(rng.random(len(y)) < self.p["strength"], y, rand)

    def group_tag_literals(self) -> Iterable[list[str]]:
        rng = self.rng(_S_GROUPS)
        text, years_on = "textual" in self.carried, "temporal" in self.carried
        for lo in range(0, self.g, ENTITY_CHUNK):
            ids = list(range(lo, min(self.g, lo + ENTITY_CHUNK)))
            if text:
                yield self.emit(rng, "group", ids, "name", [f"Group {i}" for i in ids], XSD + "string")
            years = rng.integers(1500, 2021, len(ids)).tolist()
            if years_on:
                yield self.emit(rng, "group", ids, "founded", [str(y) for y in years], XSD + "gYear")
        sw = self.shared_words
        for lo in range(0, self.t if text else 0, ENTITY_CHUNK):
            ids = list(range(lo, min(self.t, lo + ENTITY_CHUNK)))
            words = rng.integers(0, len(sw), len(ids)).tolist()
            langs = np.where(rng.random(len(ids)) < 0.5, "en", "nl").tolist()
            yield self.emit(rng, "tag", ids, "label", [sw[w] for w in words], None, langs)

    def item_literals(self, lo: int, hi: int, labels: dict[str, np.ndarray]) -> list[str]:
        """The literal lines of items ``lo`` to ``hi``, of the modalities they carry."""
        rng = self.rng(_S_ITEMS, lo // CHUNK_ITEMS)
        y = labels["y"][lo:hi]
        size = hi - lo
        ids = list(range(lo, hi))
        lines: list[str] = []

        # numeric: x = class + small noise, mapped per predicate
        for pred, dt in _ITEM_LITERALS["numeric"]:
            x = self.latent("numeric", y, rng) + rng.normal(0.0, 0.12, size)
            if pred == "price":
                lex = ["%.2f" % v for v in (100.0 + 100.0 * x).tolist()]
            elif pred == "count":
                lex = [str(v) for v in np.rint(1000.0 * (x - (self.k - 1) / 2)).astype(np.int64).tolist()]
            elif pred == "score":
                lex = ["%.6E" % v for v in (1e3 * x).tolist()]
            else:
                lex = ["%.4f" % v for v in (2.5 * (x - (self.k - 1) / 2)).tolist()]
            lines += self.emit(rng, "item", ids, pred, lex, dt)

        # temporal
        z = self.latent("temporal", y, rng)
        years = 1900 + 10 * z + rng.integers(0, 9, size)
        days = (years - 1970).astype("datetime64[Y]").astype("datetime64[D]") + rng.integers(0, 365, size)
        lines += self.emit(rng, "item", ids, "date", np.datetime_as_string(days).tolist(), XSD + "date")
        z = self.latent("temporal", y, rng)
        years = 1950 + 5 * z + rng.integers(0, 4, size)
        secs = (years - 1970).astype("datetime64[Y]").astype("datetime64[s]") + rng.integers(0, 365 * 86_400, size)
        stamps = np.datetime_as_string(secs, unit="s").tolist()
        zulu = (rng.random(size) < 0.3).tolist()
        lines += self.emit(rng, "item", ids, "timestamp", [s + "Z" if zz else s for s, zz in zip(stamps, zulu)], XSD + "dateTime")
        z = self.latent("temporal", y, rng)
        width = 2500.0 / self.k
        gyear = np.floor(-500 + width * z + rng.random(size) * 0.8 * width).astype(np.int64)
        pad = (rng.random(size) < 0.5).tolist()
        lex = []
        for v, pd in zip(gyear.tolist(), pad):
            if abs(v) < 1000:
                if pd:  # the XSD form: at least four digits
                    lex.append(("-" if v < 0 else "") + "%04d" % abs(v))
                    self.quirks["gyear_padded_short"] += 1
                else:  # as in the MR-GCN reference data: fewer than four digits
                    lex.append(str(v))
                    self.quirks["gyear_unpadded_short"] += 1
            else:
                lex.append(str(v))
            if v < 0:
                self.quirks["gyear_negative"] += 1
        lines += self.emit(rng, "item", ids, "era", lex, XSD + "gYear")

        # textual: class words mixed into shared words
        lines += self.emit(rng, "item", ids, "description", self.texts(rng, y, 6, 10, 3), XSD + "string")
        lines += self.emit(rng, "item", ids, "title", self.texts(rng, y, 3, 3, 1), None)
        langs = np.where(rng.random(size) < 0.5, "en", "nl").tolist()
        lines += self.emit(rng, "item", ids, "note", self.texts(rng, y, 4, 4, 2), None, langs)

        # visual: only the first max_images items
        n_img = max(0, min(hi, self.n_images) - lo)
        if n_img:
            z = self.latent("visual", y[:n_img], rng)
            lex = []
            for b in range(0, n_img, IMAGE_BATCH):
                lex += self.images(rng, z[b:b + IMAGE_BATCH])
            lines += self.emit(rng, "item", ids[:n_img], "image", lex, KGB + "base64Image")

        # spatial
        z = self.latent("spatial", y, rng)
        lines += self.emit(rng, "item", ids, "footprint", self.polygons(rng, z), GEO + "wktLiteral")
        px = rng.uniform(-179.0, 179.0, size).tolist()
        py = rng.uniform(-89.0, 89.0, size).tolist()
        lines += self.emit(rng, "item", ids, "location", ["POINT (%.6f %.6f)" % (a, b) for a, b in zip(px, py)], GEO + "wktLiteral")

        # boolean: odd classes true; some 1/0 forms, chosen independently of the class
        z = self.latent("boolean", y, rng)
        numeric_form = (rng.random(size) < 0.1).tolist()
        values = (z % 2 == 1).tolist()
        lex = [("1" if v else "0") if nf else ("true" if v else "false") for v, nf in zip(values, numeric_form)]
        self.quirks["boolean_numeric_form"] += sum(numeric_form)
        lines += self.emit(rng, "item", ids, "flag", lex, XSD + "boolean")
        return lines

    def texts(self, rng: np.random.Generator, y: np.ndarray, lo: int, hi: int, n_class: int) -> list[str]:
        """Texts of ``lo``-``hi`` words, ``n_class`` of them from the latent class's vocabulary."""
        size = len(y)
        z = self.latent("textual", y, rng)
        n_shared = len(self.shared_words)
        per = len(self.class_words[0])
        vocab = self.shared_words + [w for ws in self.class_words for w in ws]
        words = rng.integers(0, n_shared, (size, hi))
        words[:, :n_class] = n_shared + per * z[:, None] + rng.integers(0, per, (size, n_class))
        lengths = rng.integers(lo, hi + 1, size)
        keys = rng.random((size, hi))
        keys[np.arange(hi)[None, :] >= lengths[:, None]] = 2.0  # unused slots sort last
        words = np.take_along_axis(words, np.argsort(keys, axis=1), axis=1)
        return [" ".join([vocab[w] for w in row[:ln]]) for row, ln in zip(words.tolist(), lengths.tolist())]

    def images(self, rng: np.random.Generator, z: np.ndarray) -> list[str]:
        """Url-safe base64 images: a class-coloured, class-shaped blob on a noisy background
        (style "blob"), or a shape whose kind alone is the class (style "shapes")."""
        if self.p["image_style"] == "shapes":
            return self.encode_images(shape_images(rng, z, self.p["image_size"]))
        m, s, k = len(z), self.p["image_size"], self.k
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
        bg = rng.integers(60, 190, (m, 1, 1, 1)).astype(np.float32) + rng.normal(0, 18, (m, s, s, 3)).astype(np.float32)
        hue = (z / k + rng.uniform(-0.15, 0.15, m) / k) % 1.0
        rgb = 255.0 * _hsv_to_rgb(hue, rng.uniform(0.75, 1.0, m), rng.uniform(0.8, 1.0, m))
        cx, cy = rng.uniform(0.35 * s, 0.65 * s, (2, m))
        r = rng.uniform(0.25 * s, 0.35 * s, m)
        dx = xx[None] - cx[:, None, None]
        dy = yy[None] - cy[:, None, None]
        rr = r[:, None, None]
        disk = dx * dx + dy * dy < rr * rr
        square = np.maximum(np.abs(dx), np.abs(dy)) < 0.85 * rr
        triangle = (dy > -rr) & (dy < 0.8 * rr) & (np.abs(dx) < 0.6 * (dy + rr))
        shape = (z % 3)[:, None, None]
        mask = np.where(shape == 0, disk, np.where(shape == 1, square, triangle))
        fg = rgb[:, None, None, :].astype(np.float32) + rng.normal(0, 10, (m, s, s, 3)).astype(np.float32)
        img = np.clip(np.where(mask[..., None], fg, bg), 0, 255).astype(np.uint8)
        return self.encode_images(img)

    def encode_images(self, img: np.ndarray) -> list[str]:
        """``[m, s, s, 3]`` uint8 pixels as url-safe base64 JPEG or PNG files."""
        from PIL import Image

        fmt = "JPEG" if self.p["image_format"] == "jpeg" else "PNG"
        out = []
        for a in img:
            buf = io.BytesIO()
            if fmt == "JPEG":
                Image.fromarray(a).save(buf, fmt, quality=90)
            else:
                Image.fromarray(a).save(buf, fmt)
            out.append(base64.urlsafe_b64encode(buf.getvalue()).decode("ascii"))
        return out

    def polygons(self, rng: np.random.Generator, z: np.ndarray) -> list[str]:
        """Star-shaped (hence simple) polygons with ``3 + z`` vertices, closed rings."""
        m = len(z)
        nv = 3 + z.astype(np.int64)
        total = int(nv.sum())
        owner = np.repeat(np.arange(m), nv)
        starts = np.concatenate([[0], np.cumsum(nv)[:-1]])
        j = np.arange(total) - starts[owner]
        step = 2 * np.pi / nv[owner]
        rot = rng.uniform(0, 2 * np.pi, m)
        # jitter stays under half a step so vertices keep their angular order
        ang = rot[owner] + step * (j + rng.uniform(-0.2, 0.2, total))
        radius = 10 ** rng.uniform(-2, 0, m)
        rad = radius[owner] * rng.uniform(0.85, 1.1, total)
        cx = rng.uniform(-170, 170, m)
        cy = rng.uniform(-80, 80, m)
        x = (cx[owner] + rad * np.cos(ang)).tolist()
        yv = (cy[owner] + rad * np.sin(ang)).tolist()
        pts = ["%.6f %.6f" % (a, b) for a, b in zip(x, yv)]
        out = []
        for st, n in zip(starts.tolist(), nv.tolist()):
            ring = pts[st:st + n]
            out.append("POLYGON ((" + ", ".join(ring) + ", " + ring[0] + "))")
        return out


def shape_images(rng: np.random.Generator, z: np.ndarray, s: int) -> np.ndarray:
    """``[m, s, s, 3]`` uint8 images of one filled shape each, of kind ``SHAPES[z]``.

    Only the kind depends on ``z``: the hue, saturation and brightness of the shape, the
    grey level of the noisy background, the position and the size are drawn the same way
    for every kind, and the size is set so that the shape's *area* (and so how many pixels
    have its colour) follows the same distribution whatever the kind. No colour
    histogram can tell the class; only the outline can.
    """
    m = len(z)
    yy, xx = np.mgrid[0:s, 0:s].astype(np.float32) + 0.5
    area = rng.uniform(0.10, 0.22, m) * s * s
    # per kind: the size parameter giving that area, and the shape's half-extent in units of it
    per_kind = {
        "disk": (np.sqrt(area / np.pi), 1.0),
        "square": (np.sqrt(area) / 2, 1.0),
        "triangle": (np.sqrt(area / 1.8), 1.0),  # base 2a, height 1.8a
        "cross": (np.sqrt(9 * area / 5) / 2, 1.0),  # two bars 2a x 2a/3
        "ring": (np.sqrt(area / (0.64 * np.pi)), 1.0),  # inner radius 0.6 of the outer
        "diamond": (np.sqrt(area / 2), 1.0),  # half-diagonal a
    }
    kinds = np.asarray(z, dtype=np.int64)
    a = np.choose(kinds, [per_kind[name][0] for name in SHAPES])
    reach = a * np.choose(kinds, [per_kind[name][1] for name in SHAPES])
    cx = rng.uniform(0, 1, m) * (s - 2 * reach) + reach
    cy = rng.uniform(0, 1, m) * (s - 2 * reach) + reach
    dx = xx[None] - cx[:, None, None]
    dy = yy[None] - cy[:, None, None]
    r = a[:, None, None]
    ax, ay = np.abs(dx), np.abs(dy)
    masks = {
        "disk": dx * dx + dy * dy <= r * r,
        "square": np.maximum(ax, ay) <= r,
        "triangle": (dy >= -0.9 * r) & (dy <= 0.9 * r) & (ax <= (dy + 0.9 * r) / 1.8),
        "cross": ((ax <= r) & (ay <= r / 3)) | ((ay <= r) & (ax <= r / 3)),
        "ring": (dx * dx + dy * dy <= r * r) & (dx * dx + dy * dy >= 0.36 * r * r),
        "diamond": ax + ay <= r,
    }
    mask = np.choose(kinds[:, None, None], [masks[name] for name in SHAPES])
    rgb = 255.0 * _hsv_to_rgb(rng.random(m), rng.uniform(0.6, 1.0, m), rng.uniform(0.7, 1.0, m))
    bg = rng.integers(40, 160, (m, 1, 1, 1)).astype(np.float32) + rng.normal(0, 12, (m, s, s, 3)).astype(np.float32)
    fg = rgb[:, None, None, :].astype(np.float32) + rng.normal(0, 8, (m, s, s, 3)).astype(np.float32)
    return np.clip(np.where(mask[..., None], fg, bg), 0, 255).astype(np.uint8)
