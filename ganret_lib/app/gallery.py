"""`ganret query --html`: one self-contained page (thumbnails inlined as PNG data) per search."""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

from PIL import Image

from ..core.runs import atomic_write_bytes

THUMB = 96  # pixels, the longer side

# scoped to the gallery, so that a page embedding it (the book) keeps its own style
STYLE = """.ganret-gallery{font-family:sans-serif;color:#222}
.ganret-gallery .row{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-start;margin-bottom:1.5em}
.ganret-gallery figure{margin:0;width:110px;font-size:11px;word-break:break-all}
.ganret-gallery figure img{width:96px;height:96px;object-fit:contain;background:#000;image-rendering:pixelated}
.ganret-gallery figure.query{border-right:2px solid #888;padding-right:8px;width:120px}
.ganret-gallery .missing{width:96px;height:96px;background:#eee;display:flex;align-items:center;
justify-content:center}"""


def thumbnail(path) -> str | None:
    """A data: URI of the image shrunk to THUMB pixels, or None when it cannot be read."""
    try:
        with Image.open(path) as image:
            image.load()
            image = image.convert("RGB")
            image.thumbnail((THUMB, THUMB))
            if max(image.size) < THUMB:  # tiny images (28 x 28) are shown enlarged, unblurred
                scale = THUMB // max(image.size)
                image = image.resize((image.width * scale, image.height * scale), Image.Resampling.NEAREST)
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
    except (OSError, ValueError):
        return None
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _figure(path, caption: str, css: str = "") -> str:
    uri = thumbnail(path)
    image = f'<img src="{uri}" alt="{html.escape(caption)}">' if uri else '<div class="missing">missing</div>'
    return f'<figure class="{css}">{image}<figcaption>{html.escape(caption)}</figcaption></figure>'


def fragment(results: list[dict]) -> str:
    """The results of `search.query` as one HTML block: each query, then its neighbours in rank
    order, thumbnails inlined; embeddable in any page."""
    rows = []
    for found in results:
        cells = [_figure(found["query"], f"query: {Path(found['query']).name}", "query")]
        cells += [_figure(r["file"], f"{r['rank']}. {r['path']} ({r['distance']:.3f})") for r in found["results"]]
        rows.append(f'<div class="row">{"".join(cells)}</div>')
    return (f'<div class="ganret-gallery"><style>{STYLE}</style>'
            "<p>Cosine distance of the descriptors in brackets; smaller is closer.</p>"
            f"{''.join(rows)}</div>")


def write_html(results: list[dict], out, title: str = "ganret query") -> Path:
    """A self-contained page of `fragment(results)`."""
    page = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
            f"<body><h1>{html.escape(title)}</h1>{fragment(results)}</body></html>\n")
    atomic_write_bytes(Path(out), page.encode())
    return Path(out)
