"""Renders the OCR fixtures whose text is known exactly (run from the project root with the
project venv; needs the DejaVu fonts of Debian's fonts-dejavu-core). The PNGs are committed,
so the tests do not need the fonts; ocr.json holds the same text.

    .venv/bin/python Tests/BuiltinSkillsTests/Fixtures/ocr/make_rendered.py
"""
import json
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONTS = Path("/usr/share/fonts/truetype/dejavu")
HERE = Path(__file__).resolve().parent

# (file, font, size, ink, paper, rotation in degrees, lines)
IMAGES = [
    ("sign.png", "DejaVuSans-Bold.ttf", 44, (255, 255, 255), (170, 30, 40), 0,
     ["OPEN 24 HOURS", "Free Wi-Fi inside"]),
    ("receipt.png", "DejaVuSansMono.ttf", 18, (30, 30, 30), (245, 242, 230), 0,
     ["CORNER CAFE #042", "2 x Espresso      5.80", "1 x Croissant     2.40", "TOTAL EUR         8.20",
      "Thank you, come again!"]),
    ("letter.png", "DejaVuSerif.ttf", 22, (20, 20, 60), (255, 255, 255), 4,
     ["Dear Dr. Smith,", "the samples arrived on 12 March.", "Results follow next week."]),
]


def render(name, font_name, size, ink, paper, rotation, lines):
    font = ImageFont.truetype(str(FONTS / font_name), size)
    spacing = int(size * 0.6)
    widths = [font.getbbox(line)[2] for line in lines]
    height = len(lines) * (size + spacing) + 2 * size
    image = Image.new("RGB", (max(widths) + 2 * size, height), paper)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((size, size + i * (size + spacing)), line, font=font, fill=ink)
    if rotation:
        image = image.rotate(rotation, resample=Image.BICUBIC, expand=True, fillcolor=paper)
    image.save(HERE / name)


if __name__ == "__main__":
    for spec in IMAGES:
        render(*spec)
        print(spec[0], json.dumps("\n".join(spec[-1])))
