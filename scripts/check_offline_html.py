"""The built book must load no script or stylesheet from another host (it is read offline too)."""
import re
import sys
from pathlib import Path

REMOTE = re.compile(r"""<(?:script|link)\b[^>]*(?:src|href)=["'](?:https?:)?//[^"']+""", re.I)


def main(folder: str) -> int:
    pages = list(Path(folder).rglob("*.html"))
    bad = [(p, m.group(0)) for p in pages for m in REMOTE.finditer(p.read_text(errors="replace"))
           if "rel=\"canonical\"" not in m.group(0)]
    for page, tag in bad:
        print(f"{page}: loads {tag}")
    if not pages:
        print(f"no HTML pages under {folder}")
        return 1
    print(f"offline check: {len(pages)} pages, {len(bad)} remote scripts or stylesheets")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
