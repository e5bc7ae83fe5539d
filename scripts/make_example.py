"""Makes the shipped Ground-truth example: assets/examples/chelsea.png and chelsea_trimap.png.

The photo is scikit-image's ``chelsea.png`` (a cat; CC0, by Stefan van der Walt). The trimap
follows the Oxford-IIIT Pet convention (1 pet, 2 background, 3 border) and is made here:

1. OpenCV GrabCut separates the cat (definite + probable foreground) from the background. The cat
   touches the left, top and bottom edges, so it starts from a mask rather than a rectangle:
   a rough polygon around the cat is "probable foreground", the face "definite foreground", the
   strip right of the cat and the gap between the ears "definite background"; 8 iterations.
2. The largest connected foreground component is kept and its holes filled, as an annotator would.
3. A border band of 2 px on each side of the outline (dilation minus erosion, 5×5 ellipse) is
   labelled 3, the "not sure" region of the Oxford trimaps.

Run it with the tools it needs (not part of the demo's requirements):
    pip install scikit-image==0.26.0 opencv-python-headless==5.0.0.93
    python scripts/make_example.py
"""

from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data

OUT = Path(__file__).resolve().parent.parent / "assets" / "examples"
# Rough hand-drawn hints in chelsea.png's pixel coordinates (x, y).
CAT_OUTLINE = [
    (0, 0),
    (90, 0),
    (130, 40),
    (270, 40),
    (320, 10),
    (395, 0),
    (400, 120),
    (370, 200),
    (340, 300),
    (0, 300),
]
FACE = (60, 80, 330, 280)  # x0, y0, x1, y1
BACKGROUND = [(430, 0, 451, 300), (140, 0, 290, 15)]


def main() -> None:
    photo = data.chelsea()  # RGB uint8 (300, 451, 3)
    mask = np.full(photo.shape[:2], cv2.GC_PR_BGD, np.uint8)
    cv2.fillPoly(mask, [np.array(CAT_OUTLINE, np.int32)], cv2.GC_PR_FGD)
    x0, y0, x1, y1 = FACE
    mask[y0:y1, x0:x1] = cv2.GC_FGD
    for x0, y0, x1, y1 in BACKGROUND:
        mask[y0:y1, x0:x1] = cv2.GC_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)
    cv2.grabCut(photo[:, :, ::-1].copy(), mask, None, bgd, fgd, 8, cv2.GC_INIT_WITH_MASK)
    pet = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)

    _, labels, stats, _ = cv2.connectedComponentsWithStats(pet, connectivity=8)
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    pet = (labels == largest).astype(np.uint8)
    contours, _ = cv2.findContours(pet, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(pet, contours, -1, 1, thickness=cv2.FILLED)

    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    border = cv2.dilate(pet, kernel) != cv2.erode(pet, kernel)
    trimap = np.where(pet == 1, 1, 2).astype(np.uint8)
    trimap[border] = 3

    OUT.mkdir(parents=True, exist_ok=True)
    Image.fromarray(photo).save(OUT / "chelsea.png")
    Image.fromarray(trimap, mode="L").save(OUT / "chelsea_trimap.png")
    values, counts = np.unique(trimap, return_counts=True)
    print(dict(zip(values.tolist(), counts.tolist(), strict=True)))


if __name__ == "__main__":
    main()
