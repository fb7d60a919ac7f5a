"""The pipeline as a careful user would write it by hand in PySpark (the engine's yardstick).

    .venv/bin/python benchmarks/handwritten_pyspark.py --raw /tmp/bench_data/s1 --out /tmp/hand

Same layers and rules as pipelines/ and marts/, with no engine in between: the raw CSVs are
copied to bronze Parquet, cleaned into silver (test app filtered, exact duplicates removed,
card numbers tokenised, strict parsing, the same quality rules; rejected rows written to a
quarantine folder) and the fourteen gold tables are computed with the marts' SQL. Every table
is written as Parquet and read back by the layer above, as in a lake. What it does not do:
run records, conservation accounting, version folders, the warehouse refresh and the CLV
model fit (the predictive columns are the engine's alone and are not compared).

Tuned as a user who knows Spark would: local[2], 4g driver, AQE on, 8 shuffle partitions.
Prints ``@stage <name>`` markers for benchmarks/bench_pipeline.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from handwritten_gold import GOLD  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

DEV_APP = "Alltown Fresh - DEVELOPMENT"
HMAC_KEY = b"medallion-local-development-key"
TZ = "America/New_York"
ITEM_COLS = ["APP_NAME", "RESTAURANT_ID", "CREATION_TIME_UTC", "ORDER_ID", "USER_ID", "PRINTED_CARD_NUMBER",
             "IS_LOYALTY", "CURRENCY", "LINEITEM_ID", "ITEM_CATEGORY", "ITEM_NAME", "ITEM_PRICE", "ITEM_QUANTITY"]
OPTION_COLS = ["ORDER_ID", "LINEITEM_ID", "OPTION_GROUP_NAME", "OPTION_NAME", "OPTION_PRICE", "OPTION_QUANTITY"]
DATE_COLS = ["date_key", "year", "month", "week", "day_of_week", "is_weekend", "is_holiday", "holiday_name"]


def stage(name: str) -> None:
    print(f"@stage {name}", flush=True)


def session():
    from engine.run.java import ensure_java  # only to find a JDK, as the engine does
    from pyspark.sql import SparkSession

    ensure_java()
    spark = (SparkSession.builder.master("local[2]").appName("handwritten")
             .config("spark.driver.memory", "4g").config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false")
             .config("spark.sql.shuffle.partitions", "8").config("spark.sql.adaptive.enabled", "true")
             .config("spark.sql.session.timeZone", "UTC")
             .config("spark.sql.legacy.timeParserPolicy", "CORRECTED")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def bronze(spark, raw: Path, out: Path) -> None:
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    for name, cols in (("order_items", ITEM_COLS), ("order_item_options", OPTION_COLS), ("date_dim", DATE_COLS)):
        schema = StructType([StructField(c, StringType()) for c in cols])
        df = (spark.read.schema(schema).option("header", True).option("multiLine", True).option("escape", '"')
              .csv(str(raw / f"{name}.csv"))
              .select("*", F.current_timestamp().alias("_ingested_at"),
                      F.input_file_name().alias("_source_file"), F.lit("hand").alias("_run_id")))
        df.write.mode("overwrite").parquet(str(out / "bronze" / name))


def hmac_hex(col, key: bytes):
    """HMAC-SHA256 with Spark functions (no Python UDF)."""
    from pyspark.sql import functions as F

    key = key.ljust(64, b"\0")
    ipad, opad = bytes(b ^ 0x36 for b in key).hex(), bytes(b ^ 0x5C for b in key).hex()
    inner = F.unhex(F.sha2(F.concat(F.unhex(F.lit(ipad)), F.encode(col, "UTF-8")), 256))
    return F.when(col.isNotNull(), F.sha2(F.concat(F.unhex(F.lit(opad)), inner), 256))


def clean(c):
    from pyspark.sql import functions as F

    t = F.trim(c)
    return F.when(t != "", t)


def silver(spark, out: Path) -> None:
    from pyspark.sql import functions as F

    b = lambda n: spark.read.parquet(str(out / "bronze" / n))  # noqa: E731
    q_out = []
    # ---- order_items
    items = b("order_items").filter(F.col("APP_NAME").isNull() | (F.col("APP_NAME") != DEV_APP))
    items = items.dropDuplicates(ITEM_COLS)
    card = clean(F.col("PRINTED_CARD_NUMBER"))
    items = items.select(
        *[clean(F.col(c)).alias(c.lower()) for c in ITEM_COLS if c not in ("PRINTED_CARD_NUMBER", "ITEM_CATEGORY")],
        clean(F.col("ITEM_CATEGORY")).alias("item_category_raw"),
        (F.col("PRINTED_CARD_NUMBER").isNull() | F.trim("PRINTED_CARD_NUMBER").rlike("^[0-9]{12}$")).alias("card_ok"),
        hmac_hex(card, HMAC_KEY).alias("card_token"), F.substring(card, -4, 4).alias("card_last4"))
    ts = F.to_timestamp("creation_time_utc", "yyyy-MM-dd'T'HH:mm:ss[.SSS]XXX")
    price = F.when(F.col("item_price").rlike(r"^[+-]?[0-9]+(\.[0-9]{0,2})?$"), F.col("item_price").cast("decimal(10,2)"))
    qty = F.when(F.col("item_quantity").rlike("^[+-]?[0-9]+$"), F.col("item_quantity").cast("int"))
    loyal = F.when(F.col("is_loyalty") == "TRUE", True).when(F.col("is_loyalty") == "FALSE", False)
    parse_bad = ((F.col("creation_time_utc").isNotNull() & ts.isNull()) | (F.col("item_price").isNotNull() & price.isNull())
                 | (F.col("item_quantity").isNotNull() & qty.isNull()) | (F.col("is_loyalty").isNotNull() & loyal.isNull()))
    typed = items.withColumn("parse_bad", parse_bad).select(
        *[c for c in items.columns if c not in ("creation_time_utc", "item_price", "item_quantity", "is_loyalty")],
        ts.alias("creation_time_utc"), price.alias("item_price"), qty.alias("item_quantity"),
        loyal.alias("is_loyalty"), "parse_bad")
    fffd = "\ufffd"
    bad = (F.col("parse_bad") | F.col("order_id").isNull() | F.col("lineitem_id").isNull()
           | F.col("restaurant_id").isNull() | F.col("creation_time_utc").isNull() | F.col("item_price").isNull()
           | F.col("item_quantity").isNull() | (F.count("*").over(__import__("pyspark.sql.window", fromlist=["Window"])
                                                                   .Window.partitionBy("lineitem_id")) > 1)
           | ~F.coalesce(F.col("app_name").isin("Alltown Fresh", "Alltown Neighborhood Perks"), F.lit(True))
           | (F.col("item_quantity") < 1) | (F.col("item_price") < 0) | ~F.col("card_ok")
           | F.exists(F.array("app_name", "restaurant_id", "order_id", "user_id", "lineitem_id", "item_category_raw",
                              "item_name"), lambda x: F.coalesce(F.instr(x, fffd), F.lit(0)) > 0))
    # rows that fail parsing are rejected before the rules run (unique counts among parsed rows)
    parsed = typed.filter(~F.col("parse_bad"))
    flagged = parsed.withColumn("bad", F.coalesce(bad, F.lit(True))).cache()
    q_out.append(typed.filter("parse_bad").select(F.to_json(F.struct("*")).alias("_record")))
    q_out.append(flagged.filter("bad").select(F.to_json(F.struct("*")).alias("_record")))
    cat = F.regexp_replace(F.regexp_replace("item_category_raw", r"https?://\S*?#", ""), r"https?://\S*$", "")
    fixes = {"Bowls0": "Bowls", "Sandwiches`1": "Sandwiches", "Sqalads": "Salads", "Kids": "Kid's"}
    mapped = F.coalesce(F.create_map(*[F.lit(x) for kv in fixes.items() for x in kv])[cat], cat)
    local = F.from_utc_timestamp("creation_time_utc", TZ)
    good = flagged.filter(~F.col("bad")).select(
        "order_id", "lineitem_id", "app_name", "restaurant_id", "creation_time_utc",
        local.alias("creation_time_local"), F.to_date(local).alias("order_date"), "user_id",
        F.col("user_id").isNull().alias("is_guest"), "is_loyalty", "card_token", "card_last4", "currency",
        mapped.alias("item_category"), cat.alias("item_category_raw"), "item_name",
        F.lower(F.trim(F.regexp_replace(F.regexp_replace("item_name", r"\*+\s*$", ""), r"\s+", " ")))
        .alias("item_name_normalized"), "item_price", "item_quantity",
        F.when(F.col("item_quantity") > 0, (F.col("item_price") / F.col("item_quantity")).cast("decimal(12,4)"))
        .alias("unit_price"),
        ((F.col("item_quantity") >= 100) | (F.col("item_price") > 1000)).alias("is_bulk"))
    good.write.mode("overwrite").parquet(str(out / "silver" / "order_items"))
    flagged.unpersist()
    lines = spark.read.parquet(str(out / "silver" / "order_items"))
    # ---- order_item_options
    raw_items = b("order_items")
    dev = raw_items.filter(F.col("APP_NAME") == DEV_APP).select("ORDER_ID", "LINEITEM_ID").distinct()
    opts = b("order_item_options").dropDuplicates(OPTION_COLS).join(dev, ["ORDER_ID", "LINEITEM_ID"], "left_anti")
    opts = opts.select(*[clean(F.col(c)).alias(c.lower()) for c in OPTION_COLS])
    oprice = F.when(F.col("option_price").rlike(r"^[+-]?[0-9]+(\.[0-9]{0,2})?$"),
                    F.col("option_price").cast("decimal(10,2)"))
    oqty = F.when(F.col("option_quantity").rlike("^[+-]?[0-9]+$"), F.col("option_quantity").cast("int"))
    obad = (F.col("option_price").isNotNull() & oprice.isNull()) | (F.col("option_quantity").isNotNull() & oqty.isNull())
    otyped = opts.withColumn("parse_bad", obad).select(
        "order_id", "lineitem_id", "option_group_name", "option_name", oprice.alias("option_price"),
        oqty.alias("option_quantity"), "parse_bad")
    known = lines.select("order_id", "lineitem_id", F.lit(True).alias("line_ok"))
    ochecked = otyped.filter(~F.col("parse_bad")).join(known, ["order_id", "lineitem_id"], "left").withColumn(
        "bad", F.coalesce(F.col("order_id").isNull() | F.col("lineitem_id").isNull() | F.col("option_name").isNull()
                          | F.col("line_ok").isNull() | (F.col("option_quantity") < 1), F.lit(True))).cache()
    q_out.append(otyped.filter("parse_bad").select(F.to_json(F.struct("*")).alias("_record")))
    q_out.append(ochecked.filter("bad").select(F.to_json(F.struct("*")).alias("_record")))
    ochecked.filter(~F.col("bad")).select("order_id", "lineitem_id", "option_group_name", "option_name",
                                          "option_price", "option_quantity") \
        .write.mode("overwrite").parquet(str(out / "silver" / "order_item_options"))
    ochecked.unpersist()
    q_out[0].unionByName(q_out[1]).unionByName(q_out[2]).unionByName(q_out[3]) \
        .write.mode("overwrite").parquet(str(out / "quarantine"))
    # ---- order_lines, orders, calendar
    spark.read.parquet(str(out / "silver" / "order_item_options")).createOrReplaceTempView("options")
    lines.createOrReplaceTempView("items")
    spark.sql("""
        SELECT i.*, coalesce(o.option_count, 0) AS option_count, coalesce(o.paid_option_count, 0) AS paid_option_count,
               coalesce(o.options_revenue, CAST(0 AS DECIMAL(20,2))) AS options_revenue,
               coalesce(o.discount_amount, CAST(0 AS DECIMAL(20,2))) AS discount_amount, 1 AS option_multiplier,
               CAST(i.item_price + coalesce(o.options_revenue, 0) AS DECIMAL(20,2)) AS line_revenue
        FROM items i LEFT JOIN (
          SELECT order_id, lineitem_id, count(*) AS option_count, count_if(option_price > 0) AS paid_option_count,
                 sum(option_price * option_quantity) AS options_revenue,
                 sum(CASE WHEN option_price < 0 THEN -option_price * option_quantity ELSE 0 END) AS discount_amount
          FROM options GROUP BY order_id, lineitem_id) o
        ON o.order_id = i.order_id AND o.lineitem_id = i.lineitem_id""") \
        .write.mode("overwrite").parquet(str(out / "silver" / "order_lines"))
    spark.read.parquet(str(out / "silver" / "order_lines")).createOrReplaceTempView("order_lines")
    spark.sql("""
        SELECT order_id, min(creation_time_utc) AS creation_time_utc, min(creation_time_local) AS creation_time_local,
               min(order_date) AS order_date, min(restaurant_id) AS restaurant_id,
               count(DISTINCT restaurant_id) AS restaurants, min(app_name) AS app_name, max(user_id) AS user_id,
               bool_and(is_guest) AS is_guest, bool_or(is_loyalty) AS is_loyalty, count(*) AS lines,
               sum(item_quantity) AS units, sum(item_price) AS items_revenue, sum(options_revenue) AS options_revenue,
               sum(line_revenue) AS revenue, bool_or(option_count > 0) AS has_options, bool_or(is_bulk) AS has_bulk_line
        FROM order_lines GROUP BY order_id""").write.mode("overwrite").parquet(str(out / "silver" / "orders"))
    calendar(spark, b("date_dim"), out)


def calendar(spark, dates, out: Path) -> None:
    """The 2023 file's rows plus generated rows (US federal holidays) for every other order date."""
    from pyspark.sql import functions as F

    from engine.steps.calendar import CALENDAR_COLUMNS, calendar_rows  # the pure-Python holiday table

    known = dates.select(F.to_date("date_key", "dd-MM-yyyy").alias("date"), F.col("year").cast("int"),
                         F.col("month").cast("int"), F.col("week").cast("int"), "day_of_week",
                         (F.col("is_weekend") == "TRUE").alias("is_weekend"),
                         (F.col("is_holiday") == "TRUE").alias("is_holiday"), "holiday_name")
    span = spark.read.parquet(str(out / "silver" / "orders")).agg(F.min("order_date"), F.max("order_date")).first()
    extra = spark.createDataFrame(calendar_rows(span[0], span[1]), CALENDAR_COLUMNS).join(known.select("date"),
                                                                                           "date", "left_anti")
    known.withColumn("is_generated", F.lit(False)).unionByName(extra.withColumn("is_generated", F.lit(True))) \
        .write.mode("overwrite").parquet(str(out / "silver" / "calendar"))


def gold(spark, out: Path) -> None:
    for name in ("orders", "order_lines", "calendar"):
        spark.read.parquet(str(out / "silver" / name)).createOrReplaceTempView(name)
    for name, query in GOLD:
        started = time.perf_counter()
        spark.sql(query).write.mode("overwrite").parquet(str(out / "gold" / name))
        spark.read.parquet(str(out / "gold" / name)).createOrReplaceTempView(name)
        print(f"  table gold.{name} {time.perf_counter() - started:.1f}s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    t0 = time.perf_counter()
    stage("startup")
    spark = session()
    stage("bronze")
    bronze(spark, args.raw, args.out)
    stage("silver")
    silver(spark, args.out)
    stage("gold")
    gold(spark, args.out)
    stage("finish")
    spark.stop()
    print(f"handwritten pipeline: {time.perf_counter() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
