"""Rendering of the NAS envs: ``render_mode="ansi"`` (text) and ``"rgb_array"`` (an image).

The text names the last and the best architecture so far, the queries made and the simulated time.
The image draws the best architecture as a graph with its operations on the edges (every cell the
space's :meth:`~nasgym.spaces.base.SearchSpace.cell_graphs` gives; a space without cells lists its
decisions instead), beside the curve of the best validation accuracy over the queries. It is drawn
with numpy alone, in a built-in 3x5 bitmap font, so it needs no plotting library.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from nasgym.envs.base import NASEnv

RENDER_MODES: tuple[str, ...] = ("ansi", "rgb_array")
RENDER_FPS = 4
#: size of the rgb_array frame (height, width)
FRAME_SHAPE = (400, 800)

_BACKGROUND = (255, 255, 255)
_INK = (30, 30, 30)
_MUTED = (150, 150, 150)
_EDGE = (40, 90, 200)
_NODE = (230, 120, 40)
_CURVE = (200, 40, 40)

#: 3x5 glyphs: five rows of three bits each, most significant bit on the left
_GLYPHS: dict[str, tuple[int, ...]] = {
    "A": (2, 5, 7, 5, 5), "B": (6, 5, 6, 5, 6), "C": (3, 4, 4, 4, 3), "D": (6, 5, 5, 5, 6),
    "E": (7, 4, 6, 4, 7), "F": (7, 4, 6, 4, 4), "G": (3, 4, 5, 5, 3), "H": (5, 5, 7, 5, 5),
    "I": (7, 2, 2, 2, 7), "J": (1, 1, 1, 5, 2), "K": (5, 5, 6, 5, 5), "L": (4, 4, 4, 4, 7),
    "M": (5, 7, 7, 5, 5), "N": (6, 5, 5, 5, 5), "O": (2, 5, 5, 5, 2), "P": (6, 5, 6, 4, 4),
    "Q": (2, 5, 5, 6, 3), "R": (6, 5, 6, 5, 5), "S": (3, 4, 2, 1, 6), "T": (7, 2, 2, 2, 2),
    "U": (5, 5, 5, 5, 7), "V": (5, 5, 5, 5, 2), "W": (5, 5, 7, 7, 5), "X": (5, 5, 2, 5, 5),
    "Y": (5, 5, 2, 2, 2), "Z": (7, 1, 2, 4, 7), "0": (7, 5, 5, 5, 7), "1": (2, 6, 2, 2, 7),
    "2": (6, 1, 2, 4, 7), "3": (6, 1, 2, 1, 6), "4": (5, 5, 7, 1, 1), "5": (7, 4, 6, 1, 6),
    "6": (3, 4, 7, 5, 7), "7": (7, 1, 2, 2, 2), "8": (7, 5, 7, 5, 7), "9": (7, 5, 7, 1, 6),
    "_": (0, 0, 0, 0, 7), "-": (0, 0, 7, 0, 0), ".": (0, 0, 0, 0, 2), ":": (0, 2, 0, 2, 0),
    "/": (1, 1, 2, 4, 4), "%": (5, 1, 2, 4, 5), "(": (1, 2, 2, 2, 1), ")": (4, 2, 2, 2, 4),
    "+": (0, 2, 7, 2, 0), "=": (0, 7, 0, 7, 0), ",": (0, 0, 0, 2, 4), "~": (0, 3, 6, 0, 0),
    "|": (2, 2, 2, 2, 2), "<": (1, 2, 4, 2, 1), ">": (4, 2, 1, 2, 4), "[": (3, 2, 2, 2, 3),
    "]": (6, 2, 2, 2, 6), "'": (2, 2, 0, 0, 0), " ": (0, 0, 0, 0, 0), "?": (6, 1, 2, 0, 2),
}  # fmt: skip


def check_render_mode(render_mode: Any) -> str | None:
    """Return ``render_mode`` if it is ``None`` or one of :data:`RENDER_MODES`, else raise."""
    if render_mode is not None and (not isinstance(render_mode, str) or render_mode not in RENDER_MODES):
        raise ValueError(f"render_mode {render_mode!r} is unknown; accepted: None or one of {list(RENDER_MODES)}")
    return render_mode


def render(env: NASEnv) -> str | np.ndarray | None:
    """The frame of ``env.render()`` in its ``render_mode`` (``None`` without one)."""
    if env.render_mode == "ansi":
        return render_ansi(env)
    if env.render_mode == "rgb_array":
        return render_rgb_array(env)
    return None


# --- text ---------------------------------------------------------------------------------------
def _summary(env: NASEnv) -> dict[str, str]:
    """The lines both modes show: what was queried last, the best so far, and the progress."""
    history, log = env.history, env.render_log
    lines = {"env": f"{env.spec.id if env.spec else type(env).__name__} on {env.dataset}"}
    lines["queries"] = f"{history.n_queries} / {env.budget}, simulated time {history.sim_time:.1f} s"
    if log:
        index, valid_acc, _ = log[-1]
        lines["last"] = f"{env.search_space.arch_string(index)}  valid {valid_acc:.2f}"
    else:
        lines["last"] = "none yet"
    if history.best_index >= 0:
        lines["best"] = (
            f"{history.best_arch}  valid {history.best_valid_acc:.2f} (mean of "
            f"{history.incumbent.count(history.best_index)}), test {history.best_test_acc:.2f}"
        )
    else:
        lines["best"] = "none yet"
    return lines


def render_ansi(env: NASEnv) -> str:
    """The last and the best architecture, the queries so far and the best so far, as text."""
    return "\n".join(f"{key:>7}: {value}" for key, value in _summary(env).items()) + "\n"


# --- image ----------------------------------------------------------------------------------------
def render_rgb_array(env: NASEnv) -> np.ndarray:
    """The best architecture as a graph (or its decisions) beside the best-so-far curve:
    ``uint8`` array of shape ``FRAME_SHAPE + (3,)``."""
    height, width = FRAME_SHAPE
    frame = np.empty((height, width, 3), dtype=np.uint8)
    frame[:] = _BACKGROUND
    summary = _summary(env)
    _text(frame, 8, 8, f"{summary['env']}   queries {summary['queries']}", 2, _INK)
    _text(frame, 8, 24, f"last: {summary['last']}", 1, _MUTED)
    _text(frame, 8, 34, f"best: {summary['best']}", 1, _MUTED)
    history = env.history
    left = (0, 48, width // 2, height)
    if history.best_index >= 0:
        choices = env.search_space.choices_of(history.best_index)
        graphs = env.search_space.cell_graphs(choices)
        if graphs:
            _draw_cells(frame, graphs, left)
        else:
            _draw_decisions(frame, env.search_space, choices, left)
    else:
        _text(frame, 16, 64, "no architecture queried yet", 2, _MUTED)
    _draw_curve(frame, [best for _, _, best in env.render_log], (width // 2, 48, width, height))
    return frame


def _text(frame: np.ndarray, x: int, y: int, text: str, scale: int, color: tuple[int, int, int]) -> None:
    """Draw ``text`` (upper-cased; unknown characters as ``?``) with its top left at (x, y), clipped."""
    height, width = frame.shape[:2]
    for position, char in enumerate(text.upper()):
        left = x + position * 4 * scale
        if left + 3 * scale > width:
            return
        for row, bits in enumerate(_GLYPHS.get(char, _GLYPHS["?"])):
            top = y + row * scale
            for column in range(3):
                if bits & (4 >> column) and 0 <= top < height - scale:
                    frame[top : top + scale, left + column * scale : left + (column + 1) * scale] = color


def _line(frame: np.ndarray, start: tuple[float, float], end: tuple[float, float], color: tuple[int, int, int]) -> None:
    """A 2-pixel line from ``start`` to ``end`` ((x, y) pairs), clipped to the frame."""
    steps = int(max(abs(end[0] - start[0]), abs(end[1] - start[1]))) + 1
    xs = np.rint(np.linspace(start[0], end[0], steps)).astype(int)
    ys = np.rint(np.linspace(start[1], end[1], steps)).astype(int)
    height, width = frame.shape[:2]
    for dx, dy in ((0, 0), (1, 0), (0, 1)):
        inside = (xs + dx >= 0) & (xs + dx < width) & (ys + dy >= 0) & (ys + dy < height)
        frame[ys[inside] + dy, xs[inside] + dx] = color


def _disc(frame: np.ndarray, centre: tuple[float, float], radius: int, color: tuple[int, int, int]) -> None:
    x, y = (int(round(v)) for v in centre)
    ys, xs = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    inside = xs**2 + ys**2 <= radius**2
    patch = frame[y - radius : y + radius + 1, x - radius : x + radius + 1]
    if patch.shape[:2] == inside.shape:
        patch[inside] = color


def _draw_cells(
    frame: np.ndarray, graphs: list[tuple[str, list[tuple[int, int, str]]]], box: tuple[int, int, int, int]
) -> None:
    """Each cell in its share of ``box`` (x0, y0, x1, y1): nodes on an ellipse in index order,
    edges as lines with the operation written 40% of the way from source to target (so the labels
    of crossing edges do not meet), a square marking the target end."""
    x0, y0, x1, y1 = box
    share = (y1 - y0) // len(graphs)
    for number, (title, edges) in enumerate(graphs):
        top = y0 + number * share
        _text(frame, x0 + 12, top + 4, title, 2, _INK)
        nodes = sorted({node for edge in edges for node in edge[:2]})
        centre_x, centre_y = (x0 + x1) / 2, top + 16 + (share - 16) / 2
        radius_x, radius_y = (x1 - x0) / 2 - 40, (share - 16) / 2 - 24
        place = {}
        for k, node in enumerate(nodes):  # from the left, clockwise over the top
            angle = math.pi - math.pi * 2 * k / len(nodes) - (math.pi / len(nodes) if len(nodes) > 4 else 0)
            place[node] = (centre_x + radius_x * math.cos(angle), centre_y - radius_y * math.sin(angle))
        for source, target, _ in edges:
            (xa, ya), (xb, yb) = place[source], place[target]
            _line(frame, (xa, ya), (xb, yb), _EDGE)
            tip = (xa + 0.85 * (xb - xa), ya + 0.85 * (yb - ya))
            frame[int(tip[1]) - 3 : int(tip[1]) + 4, int(tip[0]) - 3 : int(tip[0]) + 4] = _EDGE
        for source, target, op in edges:
            (xa, ya), (xb, yb) = place[source], place[target]
            _text(frame, int(xa + 0.4 * (xb - xa)) - 2 * len(op), int(ya + 0.4 * (yb - ya)) - 2, op, 1, _INK)
        for node, centre in place.items():
            _disc(frame, centre, 9, _NODE)
            _text(frame, int(centre[0]) - 3 * len(str(node)) + 1, int(centre[1]) - 5, str(node), 2, _BACKGROUND)


def _draw_decisions(frame: np.ndarray, space: Any, choices: np.ndarray, box: tuple[int, int, int, int]) -> None:
    """A space without cells: one ``decision = choice`` line per decision, as many as fit."""
    x0, y0, _, y1 = box
    decisions = zip(space.decision_names, space.choices, choices.tolist(), strict=True)
    lines = [f"{name} = {labels[choice]}" for name, labels, choice in decisions]
    fit = (y1 - y0 - 16) // 12
    if len(lines) > fit:
        lines = lines[: fit - 1] + [f"... {len(lines) - fit + 1} more"]
    for row, line in enumerate(lines):
        _text(frame, x0 + 12, y0 + 8 + 12 * row, line, 2, _INK)


def _draw_curve(frame: np.ndarray, best: list[float], box: tuple[int, int, int, int]) -> None:
    """Best validation accuracy so far over the queries, in axes spanning ``box``."""
    x0, y0, x1, y1 = box
    left, right, top, bottom = x0 + 56, x1 - 16, y0 + 24, y1 - 32
    _text(frame, x0 + 8, y0 + 4, "best valid acc so far", 2, _INK)
    _line(frame, (left, top), (left, bottom), _MUTED)
    _line(frame, (left, bottom), (right, bottom), _MUTED)
    values = np.array([value for value in best if math.isfinite(value)])
    if values.size == 0:
        _text(frame, left + 12, (top + bottom) // 2, "no query yet", 2, _MUTED)
        return
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    _text(frame, x0 + 4, top - 2, f"{high:.2f}", 1, _INK)
    _text(frame, x0 + 4, bottom - 4, f"{low:.2f}", 1, _INK)
    _text(frame, left, bottom + 8, "1", 1, _INK)
    _text(frame, right - 4 * len(str(len(best))), bottom + 8, str(len(best)), 1, _INK)
    _text(frame, (left + right) // 2 - 28, bottom + 18, "queries", 1, _INK)
    span = max(len(best) - 1, 1)
    points = [
        (left + (right - left) * i / span, bottom - (bottom - top) * (value - low) / (high - low))
        for i, value in enumerate(best)
        if math.isfinite(value)
    ]
    if len(points) == 1:
        _disc(frame, points[0], 3, _CURVE)
    for start, end in zip(points[:-1], points[1:], strict=True):
        _line(frame, start, (end[0], start[1]), _CURVE)  # a step curve: the best holds until it changes
        _line(frame, (end[0], start[1]), end, _CURVE)
