"""What a study writes: ``grid.png``, ``plots/*.png``, ``results.json`` and ``report.html``.

The report is one static HTML page with relative links to the grid, the plots and every
cell's picture, so the folder opens in any browser, from any place it is copied to, with no
server. Every file is written to a temporary name and renamed.
"""

from __future__ import annotations

import datetime
import html
import json
import math
from pathlib import Path
from typing import Any

from styx.experiments.runner import StudyRun
from styx.experiments.study import Study

#: Space around and between the grid's pictures, and its label sizes, in pixels.
GAP = 6
LABEL = 15
ROW_LABEL_WIDTH = 190


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _wrap(draw, text: str, font, width: int) -> list[str]:
    lines: list[str] = []
    for word in text.replace(",", ", ").split():
        if lines and draw.textlength(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def write_grid(run: StudyRun, path: Path, thumbnail: int) -> Path:
    """The cells' pictures in the study's rows and columns, labelled; cells not run yet are
    grey boxes marked so."""
    from PIL import Image, ImageDraw

    from styx.files.atomic import atomic_path

    study = run.study
    done = {r.cell.key: r for r in run.results}
    rows, columns = study.rows, study.columns
    font, small = _font(LABEL), _font(LABEL - 2)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    header = max(len(_wrap(probe, c, font, thumbnail)) for c in columns) * (LABEL + 4) + GAP
    left = ROW_LABEL_WIDTH if any(rows) else 0
    width = left + GAP + len(columns) * (thumbnail + GAP)
    height = header + GAP + len(rows) * (thumbnail + GAP) + LABEL + 2 * GAP
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    for j, column in enumerate(columns):
        x = left + GAP + j * (thumbnail + GAP)
        for n, line in enumerate(_wrap(draw, column, font, thumbnail)):
            draw.text((x + thumbnail / 2, GAP + n * (LABEL + 4)), line, fill="black",
                      font=font, anchor="ma")
    for i, row in enumerate(rows):
        lines = _wrap(draw, row, font, ROW_LABEL_WIDTH - 2 * GAP)
        y = header + GAP + i * (thumbnail + GAP) + (thumbnail - len(lines) * (LABEL + 4)) // 2
        for n, line in enumerate(lines):
            draw.text((GAP, y + n * (LABEL + 4)), line, fill="black", font=font)
    for cell in study.cells:
        row, column = cell.label(study.axes)
        i, j = rows.index(row), columns.index(column)
        x, y = left + GAP + j * (thumbnail + GAP), header + GAP + i * (thumbnail + GAP)
        result = done.get(cell.key)
        if result is None:
            draw.rectangle((x, y, x + thumbnail - 1, y + thumbnail - 1), fill="#dddddd")
            draw.text((x + thumbnail / 2, y + thumbnail / 2), "not run", fill="#555555",
                      font=font, anchor="mm")
            continue
        with Image.open(result.image) as opened:
            picture = opened.convert("RGB")
        scale = thumbnail / max(picture.size)  # small outputs are enlarged, pixels kept sharp
        picture = picture.resize((max(1, round(picture.width * scale)),
                                  max(1, round(picture.height * scale))),
                                 Image.Resampling.LANCZOS if scale < 1 else
                                 Image.Resampling.NEAREST)
        sheet.paste(picture, (x + (thumbnail - picture.width) // 2,
                              y + (thumbnail - picture.height) // 2))
    draw.text((GAP, height - LABEL - GAP), f"styx experiment {study.name}: {study.title}",
              fill="#444444", font=small)
    with atomic_path(path) as temporary:
        sheet.save(temporary, format="PNG")
    return path


# -- plots -------------------------------------------------------------------------------------
def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(figure, path: Path) -> Path:
    from styx.files.atomic import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(figure)
    return path


def _spread(values: list[float]) -> bool:
    positive = [v for v in values if v > 0]
    return len(positive) == len(values) and max(positive) > 100 * min(positive)


def metric_plot(run: StudyRun, metric: str, path: Path) -> Path | None:
    """``metric`` per column, one line per row (bars when the study has one column)."""
    study = run.study
    by_row: dict[str, dict[str, float]] = {}
    for result in run.results:
        value = result.metrics.get(metric)
        if isinstance(value, (int, float)) and math.isfinite(value):
            row, column = result.cell.label(study.axes)
            by_row.setdefault(row, {})[column] = float(value)
    if not by_row:
        return None
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(max(4.5, 1.1 * len(study.columns)), 3.2))
    values = [v for row in by_row.values() for v in row.values()]
    for row, points in by_row.items():
        columns = [c for c in study.columns if c in points]
        if len(study.columns) == 1:
            axis.bar([row or study.columns[0]], [points[c] for c in columns])
        else:
            axis.plot(columns, [points[c] for c in columns], marker="o", label=row or None)
    if _spread(values):
        axis.set_yscale("log")
    axis.set_xlabel(study.axes[0].name)
    axis.set_ylabel(metric)
    axis.set_title(f"{study.name}: {metric}")
    if len(by_row) > 1 and len(study.columns) > 1:
        axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    figure.autofmt_xdate(rotation=20)
    return _save_figure(figure, path)


def layer_losses_plot(run: StudyRun, path: Path) -> Path | None:
    """Each style layer's loss at the start and the end, one panel per cell (log scale)."""
    results = [r for r in run.results if any(k.startswith("style/") for k in r.layers)]
    if not results:
        return None
    plt = _pyplot()
    shown = results[:12]
    figure, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 3.4), squeeze=False)
    for axis, result in zip(axes[0], shown):
        layers = [k for k in result.layers if k.startswith("style/")]
        names = [k.removeprefix("style/") for k in layers]
        positions = range(len(layers))
        axis.bar([p - 0.2 for p in positions], [result.layers[k]["start"] for k in layers],
                 width=0.4, label="start")
        axis.bar([p + 0.2 for p in positions], [result.layers[k]["end"] for k in layers],
                 width=0.4, label="end")
        axis.set_xticks(list(positions), names, rotation=30, fontsize=8)
        if all(result.layers[k]["start"] > 0 and result.layers[k]["end"] > 0 for k in layers):
            axis.set_yscale("log")
        row, column = result.cell.label(run.study.axes)
        axis.set_title(f"{column}\n{row}", fontsize=9)
        axis.set_ylabel("style loss")
        axis.legend(fontsize=7)
    return _save_figure(figure, path)


def loss_curves_plot(run: StudyRun, path: Path) -> Path | None:
    """The total loss per step, one line per column, one panel per row."""
    study = run.study
    rows = [r for r in study.rows if any(
        res.curve and res.cell.label(study.axes)[0] == r for res in run.results)]
    if not rows:
        return None
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(rows), figsize=(4.8 * len(rows), 3.4), squeeze=False)
    for axis, row in zip(axes[0], rows):
        for result in run.results:
            row_of, column = result.cell.label(study.axes)
            if row_of == row and result.curve:
                steps, losses = zip(*result.curve)
                axis.plot(steps, losses, label=column)
        axis.set_yscale("log")
        axis.set_xlabel("step")
        axis.set_ylabel("total loss")
        axis.set_title(row, fontsize=9)
        axis.legend(title=study.axes[0].name, fontsize=7)
        axis.grid(alpha=0.3)
    return _save_figure(figure, path)


def write_plots(run: StudyRun, folder: Path) -> list[Path]:
    plots = folder / "plots"
    made: list[Path | None] = []
    if "layer-losses" in run.study.plots:
        made.append(layer_losses_plot(run, plots / "layer-losses.png"))
    if "loss-curves" in run.study.plots:
        made.append(loss_curves_plot(run, plots / "loss-curves.png"))
    for metric in run.study.metrics:
        made.append(metric_plot(run, metric, plots / f"{metric}.png"))
    return [p for p in made if p is not None]


# -- results.json and report.html ----------------------------------------------------------------
def results_document(run: StudyRun, options: dict[str, Any], files: dict[str, Any]
                     ) -> dict[str, Any]:
    from styx.core import __version__

    study, folder = run.study, run.folder
    done = {r.cell.key: r for r in run.results}
    cells = []
    for cell in study.cells:
        row, column = cell.label(study.axes)
        result = done.get(cell.key)
        cells.append({
            "row": row, "column": column, "labels": cell.labels, "key": cell.key,
            "method": cell.method, "done": result is not None,
            "reused": bool(result and result.reused),
            "image": result.image.relative_to(folder).as_posix() if result else None,
            "content": str(cell.content), "styles": [str(s) for s in cell.styles],
            "config": cell.config.to_dict(),
            "training": None if cell.train is None else cell.train.config.to_dict(),
            "metrics": result.metrics if result else {},
            "layers": result.layers if result else {}})
    return {"study": study.name, "title": study.title, "description": study.description,
            "styx_version": __version__,
            "written": datetime.datetime.now(datetime.timezone.utc).isoformat(
                timespec="seconds"),
            "status": "interrupted" if run.interrupted else "done",
            "cells_done": run.done, "cells_total": len(study.cells),
            "seconds": round(run.seconds, 3),
            "axes": [{"name": a.name, "values": a.labels} for a in study.axes],
            "columns": study.columns, "rows": study.rows, "metrics": study.metrics,
            "options": options, "judge": run.judge,
            "descriptor_weights": _descriptor_weights(study),
            "files": files, "cells": cells}


def _descriptor_weights(study: Study) -> list[dict[str, Any]]:
    """The descriptor weights each cell's config used, once per descriptor, and the
    judge's."""
    from styx.experiments.judge import weights_used

    seen: dict[tuple[str, str], dict[str, Any]] = {}
    configs = [c.config for c in study.cells] + [c.train.config for c in study.cells if c.train]
    for config in configs:
        values = config.to_dict()
        if "descriptor" in values and "weights" in values:
            key = (values["descriptor"], values["weights"])
            if key not in seen:
                seen[key] = {"descriptor": key[0], **weights_used(
                    key[0], key[1], int(values.get("seed", 0)))}
    return list(seen.values())


def _number(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return html.escape(str(value))
    if isinstance(value, int):
        return str(value)
    return f"{value:.4g}"


def report_html(document: dict[str, Any]) -> str:
    """The page: title, what the study does, the grid, the plots, one table row per cell
    (its picture, labels and numbers) and the options."""
    e = html.escape
    files = document["files"]
    metrics = list(document["metrics"]) + [
        m for m in ("seconds", "peak_memory_mb", "loss") if m not in document["metrics"]]
    head = "".join(f"<th>{e(m)}</th>" for m in metrics)
    rows = []
    for cell in document["cells"]:
        picture = (f'<img class="thumb" src="{e(cell["image"])}" alt="{e(cell["key"])}">'
                   if cell["image"] else '<span class="missing">not run</span>')
        values = "".join(f"<td>{_number(cell['metrics'].get(m, '—'))}</td>" for m in metrics)
        rows.append(f"<tr><td>{picture}</td><td>{e(cell['row'])}</td>"
                    f"<td>{e(cell['column'])}</td><td>{e(cell['method'])}</td>{values}</tr>")
    plots = "".join(f'<figure><img src="{e(p)}" alt="{e(Path(p).stem)}"><figcaption>'
                    f"{e(Path(p).stem)}</figcaption></figure>" for p in files["plots"])
    layer_table = _layer_table(document)
    options = e(json.dumps(document["options"], indent=1))
    judge = e(json.dumps(document["judge"], indent=1))
    status = document["status"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>styx experiment {e(document["study"])}: {e(document["title"])}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; max-width: 80rem; }}
h1 {{ font-size: 1.5rem; }} .meta {{ color: #666; }}
img.grid {{ max-width: 100%; border: 1px solid #ccc; }}
figure {{ display: inline-block; margin: 0 1rem 1rem 0; }}
figure img {{ max-height: 22rem; border: 1px solid #eee; }}
table {{ border-collapse: collapse; font-size: 0.85rem; }}
td, th {{ border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: right; }}
td:nth-child(-n+4) {{ text-align: left; }}
img.thumb {{ width: 6rem; }} .missing {{ color: #a00; }}
pre {{ background: #f6f6f6; padding: 0.5rem; overflow-x: auto; font-size: 0.8rem; }}
</style></head><body>
<h1>{e(document["title"])}</h1>
<p>{e(document["description"])}</p>
<p class="meta">styx experiment {e(document["study"])} &middot; styx {e(document["styx_version"])}
&middot; {document["cells_done"]} of {document["cells_total"]} cells ({e(status)})
&middot; written {e(document["written"])}</p>
<h2>Grid</h2>
<img class="grid" src="{e(files["grid"])}" alt="grid">
<h2>Plots</h2>
{plots or "<p>No plots: no cell has finished.</p>"}
{layer_table}
<h2>Cells</h2>
<table><thead><tr><th>picture</th><th>row</th><th>column</th><th>method</th>{head}</tr></thead>
<tbody>{"".join(rows)}</tbody></table>
<h2>The judge</h2>
<p>Every picture scored through one descriptor (unweighted content, style and TV losses):</p>
<pre>{judge}</pre>
<h2>Options</h2>
<pre>{options}</pre>
<p class="meta">The numbers of every cell, and its full config, are in
<a href="results.json">results.json</a>.</p>
</body></html>
"""


def _layer_table(document: dict[str, Any]) -> str:
    """Each style layer's loss at the start and end (the layer-losses study)."""
    cells = [c for c in document["cells"] if any(k.startswith("style/") for k in c["layers"])]
    if document["study"] != "layer-losses" or not cells:
        return ""
    e = html.escape
    lines = []
    for cell in cells:
        for key, values in cell["layers"].items():
            if key.startswith("style/"):
                lines.append(f"<tr><td>{e(cell['column'])}</td><td>{e(cell['row'])}</td>"
                             f"<td>{e(key.removeprefix('style/'))}</td>"
                             f"<td>{_number(values['start'])}</td>"
                             f"<td>{_number(values['end'])}</td></tr>")
    return ("<h2>Style loss per layer</h2><table><thead><tr><th>descriptor</th><th>images"
            "</th><th>layer</th><th>start</th><th>end</th></tr></thead><tbody>"
            + "".join(lines) + "</tbody></table>")


def write_outputs(run: StudyRun, options: dict[str, Any], thumbnail: int) -> dict[str, Any]:
    """grid.png, the plots, results.json and report.html; returns the results document."""
    from styx.files.atomic import atomic_path

    folder = run.folder
    grid = write_grid(run, folder / "grid.png", thumbnail)
    plots = write_plots(run, folder)
    files = {"grid": grid.relative_to(folder).as_posix(),
             "plots": [p.relative_to(folder).as_posix() for p in plots],
             "results": "results.json", "report": "report.html"}
    document = results_document(run, options, files)
    with atomic_path(folder / "results.json") as temporary:
        temporary.write_text(json.dumps(document, indent=1) + "\n")
    with atomic_path(folder / "report.html") as temporary:
        temporary.write_text(report_html(document), encoding="utf-8")
    return document
