"""Screenshots of pages of the built site with headless Chromium (Debian's ``chromium`` package).

    python docs/screenshots.py course/cost-and-overfitting gradients --out build/screenshots
    python docs/screenshots.py gradients --mathjax node_modules/mathjax/es5    # equations rendered offline

The site is built with ``mkdocs build --strict`` into a temporary folder and each page is opened from
disk. The pages load MathJax from a CDN; on a machine without internet the equations stay as TeX
source unless ``--mathjax`` names a local copy of MathJax 3's ``es5`` folder (``npm install mathjax@3``),
which is then copied into the temporary site and used instead. Nothing in the repository changes.
``docs/screenshots/`` holds the shots taken when the site was first built (gradients, the lower half
of the cost-and-overfitting page, the ops API page), made this way with MathJax from npm.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CDN = "https://unpkg.com/mathjax@3/es5/tex-mml-chtml.js"


def build(site: Path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "--site-dir", str(site)],
                   cwd=ROOT, env=env, check=True)


def use_local_mathjax(site: Path, es5: Path):
    shutil.copytree(es5, site / "mathjax")
    for page in site.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        if CDN in text:
            rel = os.path.relpath(site / "mathjax" / "tex-mml-chtml.js", page.parent)
            page.write_text(text.replace(CDN, rel), encoding="utf-8")


def shoot(chromium: str, page: Path, out: Path, width: int, height: int):
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--window-size={width},{height}", "--virtual-time-budget=8000",
                    f"--screenshot={out}", page.as_uri()], check=True, capture_output=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("pages", nargs="+", help="site paths without index.html, e.g. gradients course/future")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "screenshots", help="folder for the PNGs")
    ap.add_argument("--mathjax", type=Path, help="a local MathJax 3 es5 folder, used instead of the CDN")
    ap.add_argument("--width", type=int, default=1280, help="window width in pixels (default 1280)")
    ap.add_argument("--height", type=int, default=2400, help="window height in pixels (default 2400)")
    args = ap.parse_args(argv)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        ap.error("headless Chromium is needed: apt-get install chromium")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        build(site)
        if args.mathjax:
            use_local_mathjax(site, args.mathjax)
        for name in args.pages:
            page = site / name.strip("/") / "index.html"
            if not page.is_file():
                ap.error(f"no page {name!r} in the site (looked for {page.relative_to(site)})")
            out = args.out / (name.strip("/").replace("/", "-") + ".png")
            shoot(chromium, page, out, args.width, args.height)
            print(out)


if __name__ == "__main__":
    main()
