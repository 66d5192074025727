"""Writes the bad-input corpus in this folder: ``python -m tests.cli.bad_input.make_corpus``.

``unreadable/`` holds files no reader may accept (exit code 3); ``ill_typed/`` holds
small labelled graphs with one ill-typed literal each, which must be skipped, counted
and trained around (exit code 0). ``tests/cli/test_bad_input.py`` runs every file
through the CLI.
"""
from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
XSD = "http://www.w3.org/2001/XMLSchema#"


def png(w: int, h: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (10, 20, 30)).save(buf, format="PNG")
    return buf.getvalue()


GOOD = "<http://e/a> <http://e/p> <http://e/b> .\n<http://e/b> <http://e/p> <http://e/a> .\n"


# name -> (file content, exit code); content None means the file is not created
UNREADABLE = {
    "broken.nt": ('<http://e/a> <http://e/p> .\n', 3),
    "unterminated.nt": ('<http://e/a> <http://e/p> "open .\n', 3),
    "spaced_iri.nt": ('<http://e/a b> <http://e/p> <http://e/c> .\n', 3),
    "no_dot.nt": ('<http://e/a> <http://e/p> <http://e/c>\n', 3),
    "broken.ttl": ('@prefix ex: <http://e/> .\nex:a ex:p ex:b ;; .\nex:c ex:p\n', 3),
    "undeclared_prefix.ttl": ('ex:a ex:p ex:b .\n', 3),
    "broken.rdf": ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description>', 3),
    "bomb.rdf": ('<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n'
                 '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', 3),
    "external.rdf": ('<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
                     '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', 3),
    "broken.jsonld": ('{"@context": ', 3),
    "broken.nq": ('<http://e/a> <http://e/p> <http://e/b> <http://e/g> <http://e/h> .\n', 3),
    "unknown.xyz": (GOOD, 3),
    "missing.ttl": (None, 3),
    "not_gzip.nt.gz": (GOOD, 3),
    "binary.nt": ("\x00\x01\x02\xff garbage", 3),
    "latin1.nt": ('<http://e/a> <http://e/p> "caf\xe9" .\n'.encode("latin-1").decode("latin-1"), 3),
}


def labelled_graph(extra: str = "") -> str:
    lines = [f"<http://e/i{i}> <http://e/cls> <http://e/c{i % 2}> .\n<http://e/i{i}> <http://e/near> <http://e/i{(i + 1) % 12}> ."
             for i in range(12)]
    return "\n".join(lines) + "\n" + extra


ILL_TYPED = {
    "impossible_date": f'"1990-02-30"^^<{XSD}date>',
    "month_13": f'"2021-13-01"^^<{XSD}date>',
    "not_a_number": f'"abc"^^<{XSD}integer>',
    "nan": f'"NaN"^^<{XSD}double>',
    "inf": f'"INF"^^<{XSD}double>',
    "overflow_byte": f'"300"^^<{XSD}byte>',
    "bad_boolean": f'"yes"^^<{XSD}boolean>',
    "bad_base64": '"%%%not base64%%%"^^<http://kgbench.info/dt#base64Image>',
    "not_an_image": f'"{base64.b64encode(b"hello world, not an image").decode()}"^^<http://kgbench.info/dt#base64Image>',
    "truncated_image": f'"{base64.b64encode(png(8, 8)[:40]).decode()}"^^<http://kgbench.info/dt#base64Image>',
    "invalid_wkt": '"POLYGON((0 0, 1 1"^^<http://www.opengis.net/ont/geosparql#wktLiteral>',
    "empty_wkt": '"POINT EMPTY"^^<http://www.opengis.net/ont/geosparql#wktLiteral>',
    "bad_time": f'"25:61:00"^^<{XSD}time>',
    # literals are data, never locations: neither is opened or fetched, both are just not images
    "path_as_image": '"/etc/passwd"^^<http://kgbench.info/dt#base64Image>',
    "url_as_image": '"http://127.0.0.1:9/picture.png"^^<http://kgbench.info/dt#base64Image>',
}




def write(folder: Path = HERE) -> None:
    (folder / "unreadable").mkdir(parents=True, exist_ok=True)
    (folder / "ill_typed").mkdir(parents=True, exist_ok=True)
    for name, (content, _code) in UNREADABLE.items():
        if content is None:
            continue
        data = content.encode("latin-1") if name == "latin1.nt" else content.encode("utf-8", "surrogateescape")
        (folder / "unreadable" / name).write_bytes(data)
    for name, literal in ILL_TYPED.items():
        (folder / "ill_typed" / f"{name}.nt").write_text(labelled_graph(f"<http://e/i0> <http://e/{name}> {literal} .\n"))


if __name__ == "__main__":
    write()
