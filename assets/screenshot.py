#!/usr/bin/env python3
"""Renders `tmux capture-pane -e -p` output (ANSI colours) to a PNG.

Usage: tmux capture-pane -e -p -t SESSION | python3 assets/screenshot.py OUT.png
Needs Pillow and DejaVu Sans Mono.
"""
import re
import sys

from PIL import Image, ImageDraw, ImageFont

PALETTE = {
    0: (40, 42, 54), 1: (255, 85, 85), 2: (80, 250, 123), 3: (241, 250, 140),
    4: (98, 114, 164), 5: (255, 121, 198), 6: (139, 233, 253), 7: (230, 230, 230),
}
BRIGHT = {k: tuple(min(255, c + 40) for c in v) for k, v in PALETTE.items()}
BRIGHT[0] = (150, 150, 160)
FG, BG = (230, 230, 230), (30, 31, 40)


def cells(text):
    """Yields rows of (char, fg, bg, bold)."""
    for line in text.rstrip("\n").split("\n"):
        row, fg, bg, bold, rev = [], FG, BG, False, False
        for part in re.split(r"(\x1b\[[0-9;]*m)", line):
            if part.startswith("\x1b["):
                codes = [int(c) if c else 0 for c in part[2:-1].split(";")]
                i = 0
                while i < len(codes):
                    c = codes[i]
                    if c == 0:
                        fg, bg, bold, rev = FG, BG, False, False
                    elif c == 1:
                        bold = True
                    elif c == 7:
                        rev = True
                    elif c == 22:
                        bold = False
                    elif c == 27:
                        rev = False
                    elif 30 <= c <= 37:
                        fg = PALETTE[c - 30]
                    elif 90 <= c <= 97:
                        fg = BRIGHT[c - 90]
                    elif c == 39:
                        fg = FG
                    elif 40 <= c <= 47:
                        bg = PALETTE[c - 40]
                    elif c == 49:
                        bg = BG
                    elif c in (38, 48) and i + 2 < len(codes) and codes[i + 1] == 5:
                        n = codes[i + 2]
                        col = PALETTE[n] if n < 8 else BRIGHT[n - 8] if n < 16 else FG
                        fg, bg = (col, bg) if c == 38 else (fg, col)
                        i += 2
                    i += 1
                continue
            for ch in part:
                row.append((ch, bg if rev else fg, fg if rev else bg, bold))
        yield row


def main():
    out = sys.argv[1]
    rows = list(cells(sys.stdin.read()))
    font = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 15)
    bold = ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf", 15)
    cw, ch = 9, 18
    width = max(len(r) for r in rows) * cw + 16
    img = Image.new("RGB", (width, len(rows) * ch + 16), BG)
    draw = ImageDraw.Draw(img)
    for y, row in enumerate(rows):
        for x, (c, fg, bg, b) in enumerate(row):
            px, py = 8 + x * cw, 8 + y * ch
            if bg != BG:
                draw.rectangle([px, py, px + cw, py + ch], fill=bg)
            draw.text((px, py), c, fill=fg, font=bold if b else font)
    img.save(out)


if __name__ == "__main__":
    main()
