"""``medallion sample``: generate the synthetic raw files, or report a folder's profile.

Why a plugin: the engine knows nothing about restaurants, so this command is contributed through
the project's ``commands:`` in medallion.yaml (``sample_data.cli:register``). ``--profile``
and ``--var`` are accepted, as by every medallion command, and ignored for now.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

SCALE_MIN, SCALE_MAX = 0.01, 100.0


def _fail(console: Console, message: str) -> None:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def print_report(rows, console: Console | None = None) -> bool:
    """Print the profile table; returns True when every applicable statistic is within tolerance."""
    console = console or Console()
    table = Table(title="Profile vs published facts", show_lines=False)
    for col in ("section", "statistic", "target", "measured", "tolerance", "ok"):
        table.add_column(col, justify="right" if col in ("target", "measured") else "left")
    for r in rows:
        mark = "n/a" if r.ok is None else ("[green]ok[/green]" if r.ok else "[red]FAIL[/red]")
        table.add_row(r.section, r.statistic, str(r.target), str(r.measured), r.tolerance, mark)
    console.print(table)
    checked = [r for r in rows if r.ok is not None]
    failed = [r for r in checked if not r.ok]
    console.print(f"{len(checked) - len(failed)}/{len(checked)} statistics within tolerance"
                  f" ({len(rows) - len(checked)} not applicable at this scale)")
    return not failed


def register(app: typer.Typer) -> None:
    """Add the ``sample`` command to the medallion Typer app."""

    @app.command("sample")
    def sample(
        scale: Annotated[Optional[float], typer.Option(
            "--scale", show_default="1.0",
            help="1.0 = the real dataset's size (0.01-100); with --report, overrides the folder's")] = None,
        seed: Annotated[int, typer.Option("--seed", help="random seed; same seed, same bytes")] = 42,
        out: Annotated[Path, typer.Option("--out", help="folder for the raw CSVs")] = Path("data/raw"),
        report: Annotated[Optional[Path], typer.Option(
            "--report", help="print the profile report of the CSVs in this folder instead")] = None,
        profile: Annotated[Optional[str], typer.Option(
            "--profile", "-p", help="config profile (accepted, unused)")] = None,
        var: Annotated[Optional[list[str]], typer.Option("--var", help="NAME=VALUE (unused)")] = None,
        daily: Annotated[bool, typer.Option(
            "--daily", help="one file per business day: order_items/<day>.csv, order_item_options/<day>.csv")] = False,
    ) -> None:
        """Realistic synthetic raw data (order_items, order_item_options, date_dim) with the
        published profile of the real dataset and its quirks, plus a ground-truth file."""
        console = Console()
        for v in var or []:
            if "=" not in v:
                _fail(console, f"--var expects NAME=VALUE, got '{v}'")
        if report is not None:
            _report(console, report, scale)
            return
        scale = 1.0 if scale is None else scale
        if not (SCALE_MIN <= scale <= SCALE_MAX):
            _fail(console, f"--scale must be between {SCALE_MIN} and {SCALE_MAX:g}, got {scale:g}")
        if out.exists() and not out.is_dir():
            _fail(console, f"--out {out} exists and is not a folder")
        from sample_data.generate import ITEMS, MANIFEST, OPTIONS, TRUTH, DATE_DIM, generate

        try:
            with console.status(f"generating scale {scale:g}, seed {seed} ..."):
                counts = generate(out, scale=scale, seed=seed)
        except OSError as exc:
            _fail(console, f"cannot write to {out}: {exc.strerror or exc}")
        if daily:
            _to_daily_files(out)
        table = Table(title=f"medallion sample → {out}")
        table.add_column("file")
        table.add_column("rows", justify="right")
        table.add_row(ITEMS, f"{counts['items']:,}")
        table.add_row(OPTIONS, f"{counts['options']:,}")
        table.add_row(DATE_DIM, "365")
        table.add_row(TRUTH, f"{counts['users']:,}")
        table.add_row(MANIFEST, "-")
        console.print(table)
        console.print(f"{counts['orders']:,} orders, {counts['chunks']} chunk(s), "
                      f"{counts['seconds']:.1f} s")


def _to_daily_files(out: Path) -> None:
    """Split the two order files into one file per business day, in place (the source that
    delivers a file a day; bronze reads order_items{.csv,/*.csv})."""
    import tempfile

    from sample_data.days import split_by_day
    from sample_data.generate import ITEMS, OPTIONS

    with tempfile.TemporaryDirectory(dir=out) as tmp:
        for name in (ITEMS, OPTIONS):
            (out / name).rename(Path(tmp) / name)
        (out / "date_dim.csv").rename(Path(tmp) / "date_dim.csv")
        split_by_day(Path(tmp), out)


def _report(console: Console, folder: Path, scale: float | None) -> None:
    from sample_data.profile import profile_report

    if not (folder / "order_items.csv").exists() or not (folder / "order_item_options.csv").exists():
        _fail(console, f"{folder} has no order_items.csv / order_item_options.csv")
    rows = profile_report(folder, scale)
    if not print_report(rows, console):
        raise typer.Exit(1)
