"""Extend a calendar to every date the data needs, with US federal holidays (observed too).

Rows the given calendar already has are kept exactly as they are; the missing dates are
generated with the same columns. Holidays follow 5 U.S.C. 6103: fixed-date holidays falling on
a Saturday are observed the Friday before, on a Sunday the Monday after.
"""

from __future__ import annotations

from datetime import date, timedelta

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import BooleanType, DateType, IntegerType, StringType, StructField, StructType

from engine.spec.quality import CalendarStep
from engine.steps.context import StepContext
from engine.steps.counting import aggregate_in_one_job

CALENDAR_COLUMNS = StructType([
    StructField("date", DateType()), StructField("year", IntegerType()), StructField("month", IntegerType()),
    StructField("week", IntegerType()), StructField("day_of_week", StringType()),
    StructField("is_weekend", BooleanType()), StructField("is_holiday", BooleanType()),
    StructField("holiday_name", StringType()),
])


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    last = (date(year + (month == 12), month % 12 + 1, 1)) - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def us_federal_holidays(year: int) -> dict[date, str]:
    """Holidays of ``year`` (and observed days falling in it), named as in the source calendar."""
    fixed = [(1, 1, "New Year's Day"), (7, 4, "Indep. Day"), (11, 11, "Veterans Day"), (12, 25, "Christmas")]
    if year >= 2021:
        fixed.append((6, 19, "Juneteenth"))
    out: dict[date, str] = {
        _nth_weekday(year, 1, 0, 3): "Martin Luther King Jr.",
        _nth_weekday(year, 2, 0, 3): "Washington's Birthday",
        _last_weekday(year, 5, 0): "Memorial Day",
        _nth_weekday(year, 9, 0, 1): "Labor Day",
        _nth_weekday(year, 10, 0, 2): "Columbus Day",
        _nth_weekday(year, 11, 3, 4): "Thanksgiving Day",
    }
    for y in (year, year + 1):  # next New Year's Day may be observed on Dec 31 of this year
        for month, day, name in fixed:
            if y == year + 1 and (month, day) != (1, 1):
                continue
            actual = date(y, month, day)
            if actual.year == year:
                out[actual] = name
            shift = {5: -1, 6: 1}.get(actual.weekday())
            if shift:
                observed = actual + timedelta(days=shift)
                if observed.year == year:
                    out[observed] = f"{name} Observed"
    return out


def calendar_rows(start: date, end: date, holidays: str = "us_federal") -> list[tuple]:
    """One row per date from ``start`` to ``end`` inclusive, in the calendar's columns."""
    table: dict[int, dict[date, str]] = {}
    rows = []
    day = start
    while day <= end:
        if holidays == "us_federal" and day.year not in table:
            table[day.year] = us_federal_holidays(day.year)
        name = table.get(day.year, {}).get(day)
        rows.append((day, day.year, day.month, day.isocalendar()[1], day.strftime("%A"),
                     day.weekday() >= 5, name is not None, name))
        day += timedelta(days=1)
    return rows


def run_calendar(step: CalendarStep, frame: DataFrame, ctx: StepContext) -> DataFrame:
    """The given calendar rows plus generated rows for every other needed date."""
    missing = [f.name for f in CALENDAR_COLUMNS.fields if f.name not in frame.columns]
    if missing:
        raise ValueError(f"calendar: the input needs column(s) {', '.join(missing)}")
    dates = ctx.frame(step.dates_from).select(F.to_date(F.col(step.date_column)).alias("d"))
    # as ISO text: an observed date would cross Py4J as a Java object
    span = {k: None if v is None else date.fromisoformat(str(v)) for k, v in aggregate_in_one_job(
        dates, [F.min("d").cast("string").alias("lo"), F.max("d").cast("string").alias("hi")]).items()}
    known = frame.select(*[F.col(f.name).cast(f.dataType) for f in CALENDAR_COLUMNS.fields])
    if span["lo"] is None:
        return known.withColumn("is_generated", F.lit(False))
    generated = ctx.spark.createDataFrame(calendar_rows(span["lo"], span["hi"], step.holidays), CALENDAR_COLUMNS)
    extra = generated.join(known.select("date"), "date", "left_anti").withColumn("is_generated", F.lit(True))
    return known.withColumn("is_generated", F.lit(False)).unionByName(extra)
