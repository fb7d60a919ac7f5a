"""Knobs of the generator: the parts of the world the published profile does not pin down.

Why separate from ``published``: published numbers are targets the report checks; these are the
modelling choices (opening dates, store weights, process parameters) that were tuned, by running
the generator at scale 1 and comparing its profile report, until the targets were met. Changing
a value here changes the data; changing ``published`` only changes what the report expects.
"""

from __future__ import annotations

from dataclasses import dataclass

START = "2020-04-21T18:56:44.244"      # first order (UTC), exactly as published
END = "2024-02-21T02:52:35.366"        # last order (UTC)
ORPHAN_END = "2024-02-21T13:40:00"     # orphan options come from orders placed after the extract


@dataclass(frozen=True)
class Store:
    """One restaurant: id, opening/closing dates, target rows at scale 1 and menu flags."""
    id: str
    opens: str
    closes: str | None
    rows: int
    bbq: bool = False          # serves BBQ Plates (from BBQ_FROM or opening)
    launch: bool = False       # the 2020 launch store: Burgers & Sandwiches and Pizza only
    dev: bool = False          # used only by the DEVELOPMENT app
    pos: bool = False          # POS-fed store: some item names arrive UPPERCASE
    kids_alias: bool = False   # writes the Kid's category as `Kids`


STORES = (
    Store("5e7e36f4505ee9fc797b23ed", "2020-04-21", "2021-05-31", 2_800, launch=True),
    Store("5e7e35ec902ad5ac017b242a", "2020-05-20", None, 21_416),
    Store("5e7e35ed902ad5ac017b242b", "2020-06-03", None, 5_800, bbq=True),
    Store("5edff313902ad5580e9c3f30", "2020-06-15", None, 10_569),
    Store("5e7e35ef902ad5ac017b242c", "2020-07-01", None, 4_900, bbq=True),
    Store("5ef0c1a2902ad5b1127b2401", "2020-07-06", "2021-10-31", 300),
    Store("5e7e35f0902ad5ac017b242d", "2020-08-01", "2022-09-30", 2_300),
    Store("5f3d2b6e505ee9c4d37b23e8", "2020-09-01", "2022-06-30", 1_200),
    Store("5f6a6c1537ab46bd38e9df75", "2020-10-01", None, 18_888),
    Store("5fb41c9a4f5ee9e6a87b23f2", "2020-12-01", "2022-02-28", 700),
    Store("5fece84aadb0d51509c36f22", "2021-01-06", None, 32_459),
    Store("6050e76361e498ca740bba6f", "2021-03-16", None, 826, dev=True),
    Store("6054db3295b70198148b456d", "2021-04-01", None, 3_400),
    Store("6054db3395b70198148b456e", "2021-04-01", None, 11_776),
    Store("6054db3495b70198148b456f", "2021-04-01", None, 23_135),
    Store("607f0a3c95b70198148b4571", "2021-05-03", "2022-11-30", 600),
    Store("60e5b7d2ffd1254533e62a10", "2021-07-12", "2022-12-15", 900),
    Store("61537a9e62e498b3a1e72b05", "2021-10-04", None, 800),
    Store("61d4f2b1ffd125453e62b3c7", "2022-01-10", None, 500),
    Store("622107b40ac81503e0369ca6", "2022-03-07", None, 11_594),
    Store("622289bc6863d23d066d56ff", "2022-03-08", None, 6_500, bbq=True),
    Store("62603c5b3fbb945d37551125", "2022-04-25", None, 5_200, bbq=True),
    Store("62754fb697ef8a71910f97bd", "2022-05-10", None, 4_600, bbq=True),
    Store("62b1e03c24813746ce6f4e21", "2022-06-27", None, 400),
    Store("62f2ce9824813746ce6f5140", "2022-08-15", None, 12_571),
    Store("6351b7d1a036663f05239b60", "2022-10-24", None, 8_897, pos=True),
    Store("63bc98a7519adc105105a990", "2023-01-10", None, 10_313, pos=True, kids_alias=True),
    Store("63f7a4d2519adc105105b6e4", "2023-03-01", None, 175),
)
BBQ_FROM = "2022-03-01"
PERKS_STORES = ("5e7e35ec902ad5ac017b242a", "5edff313902ad5580e9c3f30", "5f6a6c1537ab46bd38e9df75")
# relative attractiveness of each store while open (same order as STORES); tuned so that the
# rows per store match `rows` above at scale 1
STORE_WEIGHTS = (
    0.0602, 0.3953, 0.1065, 0.2559, 0.0866, 0.0355, 0.0964, 0.0638, 0.5594, 0.0618, 1.309, 0,
    0.1592, 0.5324, 1.201, 0.0643, 0.0735, 0.0567, 0.0598, 1.43, 0.8117, 0.7878, 0.6896, 0.0687,
    2.397, 2.126, 3.389, 0.035,
)
HOME_LOYALTY = 0.85            # share of a customer's orders at the home store

# UTC hour profile of orders (published for 10-18h; the minor hours are our choice, each <= 1.7 %)
HOUR_WEIGHTS = (0.75, 0.55, 0.40, 0.25, 0.15, 0.10, 0.15, 0.30, 0.55, 1.60, 4.0, 7.5, 9.7, 10.5,
                10.6, 14.2, 15.1, 10.2, 5.7, 2.8, 1.6, 1.3, 1.1, 0.9)
PREFERRED_HOUR_SHARE = 0.4     # share of a customer's orders placed in their habitual hour

# daily order volume: knots (date, relative level), rescaled per year to ORDERS_BY_NY_YEAR
VOLUME_KNOTS = (("2020-04-21", 20), ("2020-12-31", 45), ("2021-06-30", 70), ("2021-12-31", 85),
                ("2022-06-30", 105), ("2022-12-31", 120), ("2023-06-30", 150), ("2023-12-31", 140),
                ("2024-02-21", 120))
GUEST_ORDER_SHARE = {2020: 0.13, 2021: 0.105, 2022: 0.10, 2023: 0.083, 2024: 0.08}

# BG/NBD purchase process of registered customers (rates per day) and their spend propensity
BGNBD = dict(r=0.1853, alpha=13.30, a=0.4262, b=2.9627)
BIRTHS_FACTOR = 0.985          # the simulated process runs ~1.5 % above its expectation
BASKET_SHAPE = 1.7             # customer basket propensity z ~ Gamma(shape, 1/shape), mean 1
GROUP_ORDER_P = 0.0003         # chance an order is a group order of 11-30 lines
ORDER_BASKET_SHAPE = 3.0       # per-order gamma noise: lines - 1 ~ Poisson(mean * z * G)
EXTRA_LINES = {2020: 0.25, 2021: 0.645, 2022: 0.615, 2023: 0.545, 2024: 0.48}   # mean lines - 1
GUEST_BASKET = 0.75
ATTACH_FACTOR = 1.1           # scales every item's option attach probability
FAVOURITE_ITEM_SHARE = 0.3     # share of lines that repeat the customer's favourite item

# loyalty programme
LOYALTY_LAUNCH = "2022-12-15"
LOYALTY_NEVER = 0.20           # share of customers who never join
LOYALTY_AT_FIRST = 0.15        # share who sign up on their first order after the launch
LOYALTY_JOIN_DAYS = 75         # mean wait (exponential) before a customer joins
LOYALTY_SCAN = (150.0, 1.0)    # Beta(a, b) of the chance a member's order carries the card
CARD_BASE, CARD_MONTH_SPAN = 678_010_000_000, 2_800_000

# prices: old menu prices until a store's switch date, then new
PRICE_SWITCH = "2022-09-01"
PRICE_SWITCH_SPREAD_DAYS = 90
OPTION_PRICE_SWITCH = "2021-01-01"

QUANTITY = {1: 189_868, 2: 10_335, 3: 1_747, 4: 728, 5: 457, 6: 110, 7: 60, 8: 55, 9: 30,
            10: 44}
QUANTITY_11_50 = 68            # drawn from a decaying law over 11..50 (<= 27 in 2023)

# special populations: (lines, orders, locations, first day, last day, max orders in one day)
BOTS = (
    ("5f1b00e5535ee93e0cb768e7", 2_538, 1_803, 19, "2020-07-24", "2023-12-20", 60),
    ("5ece77fe902ad501337b23fd", 2_454, 2_124, 19, "2020-05-27", "2024-02-20", 95),
    ("609d681462e498b356e72a6d", 1_133, 630, 9, "2021-05-13", "2023-06-30", 30),
    ("5eac88d6902ad598127b240b", 1_046, 1_000, 6, "2020-05-01", "2022-12-31", 40),
    ("6282b576c000c6237277bbbd", 1_010, 434, 8, "2022-05-16", "2024-02-19", 25),
    ("5f3c1860505ee9de2a7b23f0", 945, 743, 7, "2020-08-18", "2023-09-30", 35),
    (None, 820, 600, 14, "2021-02-01", "2023-11-30", 154),
    (None, 610, 520, 12, "2021-06-01", "2023-12-31", 45),
    (None, 540, 450, 20, "2021-09-01", "2024-02-15", 40),
    (None, 420, 330, 10, "2022-01-15", "2023-10-31", 30),
    (None, 380, 300, 6, "2020-10-01", "2022-06-30", 28),
    (None, 330, 260, 8, "2022-03-01", "2024-02-10", 26),
    (None, 260, 200, 11, "2021-03-01", "2022-12-31", 24),
    (None, 220, 170, 6, "2022-06-01", "2023-12-31", 22),
)
BOT_CHAIN_SHARE = (0.26, 0.56)   # share of a bot's orders placed within 5 min of the previous
DEV_ROWS_2023_SHARE = 700 / 826
PERKS_LINES_PER_ORDER = 1_270 / 1_076
DEV_LINES_PER_ORDER = 826 / 741
