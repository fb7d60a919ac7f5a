"""The published profile of the real restaurant dataset, as data.

Why a module of constants: the generator is tuned against these numbers and the profile report
(``sample_data.profile``) checks a generated folder against them, so both must read the same
figures. Every number is quoted from ``shared/data/real_data_facts.md`` (peers' analyses of the
full real files, which are not public); the bracketed source tags follow that document. Nothing
here is measured from our own output.
"""

from __future__ import annotations

# --- files and format -------------------------------------------------------------------------
ITEMS_HEADER = ("APP_NAME,RESTAURANT_ID,CREATION_TIME_UTC,ORDER_ID,USER_ID,PRINTED_CARD_NUMBER,"
                "IS_LOYALTY,CURRENCY,LINEITEM_ID,ITEM_CATEGORY,ITEM_NAME,ITEM_PRICE,ITEM_QUANTITY")
OPTIONS_HEADER = "ORDER_ID,LINEITEM_ID,OPTION_GROUP_NAME,OPTION_NAME,OPTION_PRICE,OPTION_QUANTITY"
DATE_DIM_SHA256 = "4168f66d142e8263ee5ed4e223399d62eb7e7eea4c5b5f19f8dbc9c1bf9a1ea1"  # CRLF, 15,901 B
ITEM_RECORDS = 203_519
ITEM_PHYSICAL_LINES = 203_532          # header included: 12 records carry a quoted newline
NEWLINE_RECORDS = 12
ITEM_BYTES = 37_894_585
OPTION_ROWS = 193_017
OPTION_BYTES = 17_604_850
FRACTION_DIGITS = {0: 187, 1: 1_853, 2: 18_131, 3: 183_348}   # rows by fractional-second digits

# --- time range and volume -------------------------------------------------------------------
FIRST_TS = "2020-04-21T18:56:44.244Z"
LAST_TS = "2024-02-21T02:52:35.366Z"
ORDERS = 131_328
LINES_BY_UTC_YEAR = {2020: 10_226, 2021: 43_478, 2022: 60_066, 2023: 80_664, 2024: 9_085}
ORDERS_BY_NY_YEAR = {2020: 8_186, 2021: 26_790, 2022: 37_490, 2023: 52_641, 2024: 6_221}
# share of rows by UTC hour [baanu]; hours not listed are each <= 1.7 %
HOUR_SHARE = {15: 0.142, 16: 0.151, 14: 0.106, 13: 0.105, 17: 0.102, 12: 0.097, 11: 0.075,
              18: 0.057, 10: 0.040}
MINOR_HOUR_MAX = 0.017

# --- apps ------------------------------------------------------------------------------------
APP_FRESH, APP_PERKS, APP_DEV = "Alltown Fresh", "Alltown Neighborhood Perks", "Alltown Fresh - DEVELOPMENT"
APP_ROWS = {APP_FRESH: 201_423, APP_PERKS: 1_270, APP_DEV: 826}
DEV = dict(orders=741, users=115, revenue=7_221.54, first="2021-03-16", last="2024-02-12",
           breakfast_share=0.628, rows_2023=700, restaurant="6050e76361e498ca740bba6f")
PERKS = dict(orders=1_076, customers=34, revenue=8_212.12, first="2021-07-06", last="2023-03-13",
             restaurants=3)
FRESH = dict(orders=129_511, customers=20_026, revenue=1_763_299.87)

# --- restaurants ------------------------------------------------------------------------------
RESTAURANTS = 28
TOP10_ROWS = {
    "5fece84aadb0d51509c36f22": 32_459, "6054db3495b70198148b456f": 23_135,
    "5e7e35ec902ad5ac017b242a": 21_416, "5f6a6c1537ab46bd38e9df75": 18_888,
    "62f2ce9824813746ce6f5140": 12_571, "6054db3395b70198148b456e": 11_776,
    "622107b40ac81503e0369ca6": 11_594, "5edff313902ad5580e9c3f30": 10_569,
    "63bc98a7519adc105105a990": 10_313, "6351b7d1a036663f05239b60": 8_897,
}
TOP4_SHARE = 0.471
ACTIVE_2023 = 21                      # 20 without the DEVELOPMENT restaurant

# --- customers --------------------------------------------------------------------------------
USERS = 20_174
GUEST_LINES = 17_808
GUEST_ORDERS = 12_669
ORDERS_PER_CUSTOMER = {"1": 10_093, "2": 2_978, "3-5": 3_196, "6-10": 1_735, "11-20": 1_125,
                       "21-50": 751, "51-100": 207, "101+": 89}
ORDERS_PER_CUSTOMER_MEAN, ORDERS_PER_CUSTOMER_MAX = 5.9, 2_124
SPEND_PER_CUSTOMER = dict(mean=79.93, median=23.78, p90=158.24, p99=854.58, max=27_258.73)
LINES_PER_CUSTOMER = dict(median=3, p99=98)
HEAVY_ACCOUNTS = {  # user_id: (lines, orders, locations or None) [Polat]
    "5f1b00e5535ee93e0cb768e7": (2_538, 1_803, 19), "5ece77fe902ad501337b23fd": (2_454, 2_124, 19),
    "609d681462e498b356e72a6d": (1_133, 630, None), "5eac88d6902ad598127b240b": (1_046, 1_000, None),
    "6282b576c000c6237277bbbd": (1_010, 434, None), "5f3c1860505ee9de2a7b23f0": (945, 743, None),
}
BOT_LIKE_ACCOUNTS = 14                # [vit] 26-56 % of orders within 5 min, up to 154 orders/day
BOT_MAX_ORDERS_PER_DAY = 154

# --- loyalty ----------------------------------------------------------------------------------
LOYALTY_LINES = 46_084
CARDS = 5_866
LOYALTY_GUEST_ROWS = 28
SHARED_CARDS = 7
SWITCHERS_2023 = dict(switchers=1_913, customers=10_512, started_non_loyal=1_808, max_switches=9)

# --- orders and lines -------------------------------------------------------------------------
LINES_PER_ORDER = {"1": 84_619, "2": 31_613, "3": 9_239, "4-5": 4_846, "6-10": 950, "11+": 61}
LINES_PER_ORDER_MAX = 61
LARGEST_ORDERS = {"60212b86505ee90c1e92ec74": 61, "5fd0e92f4f5ee9301fda8df8": 27,
                  "627138e08ae3be97e9047d77": 26, "61af8a82ffd125453e62ae37": 25}
MALFORMED = dict(app=APP_FRESH, restaurant="5e7e35ed902ad5ac017b242b", ts="2021-12-07T16:23:30.917Z",
                 order="61af8a82ffd125453e62ae37", user="609d681462e498b356e72a6d", price=4.39,
                 quantity=0, other_lines=24)

# --- categories and items ---------------------------------------------------------------------
CATEGORIES_NON_EMPTY = 45
TOP_CATEGORIES = {"Breakfast": 72_068, "Sandwiches": 55_474, "Smoothies": 21_152, "Bowls": 12_053,
                  "Salads": 11_980}
KIDS_ROWS = 1_158
DIRTY_CATEGORIES = {"BBQ Plates<url>": 70, "Bowls0": 52, "Sandwiches`1": 30, "Drip C<url>offee": 26,
                    "Sqalads": 8, "Kid's<url>": 2, "": 1, "Test Items": 1}
URL_ROWS = 98
ITEM_NAMES = 431
ITEM_NAMES_LOWER = 396
STAR_ROWS = 55_221
TOP_ITEMS = {"Bacon Egg & Cheese*": 21_710, "Chipotle Turkey": 14_755, "Breakfast Burrito*": 11_778,
             "Southwest Sausage Breakfast Sandwich*": 8_785, "B.L.A.T": 8_138}

# --- prices and quantities --------------------------------------------------------------------
PRICE = dict(distinct=636, min=0.0, max=5_000.0, mean=8.74, std=19.57, zero=156, over50=590,
             over100=144, total=1_778_733.53)
PRICE_PCTL = {1: 1.59, 5: 2.39, 10: 3.89, 25: 5.89, 50: 8.00, 75: 10.00, 90: 11.99, 95: 13.98,
              99: 26.67}
TOP_PRICES = {9.89: 17_410, 5.99: 16_683, 5.89: 11_389, 10.99: 10_363, 9.99: 9_898}
QUANTITY = {"0": 1, "1": 189_868, "2": 10_335, "3": 1_747, "4": 728, "5": 457, "6-10": 299,
            "11-50": 68, "51-500": 16}
QUANTITY_DISTINCT = 39
MULTI_QTY_ROWS, LINE_TOTAL_MATCH = 13_650, 5_972
BULK_LINES = [  # (item, category, line price, quantity, group): qty >= 100, all 2020-2022 [Polat]
    ("Korean Kimchi", "Bowls", 5000.00, 500, "k"),
    ("Meet Your Matcha - 12oz", "Espresso", 3500.00, 500, "m"),
    ("Espresso - Double", "Espresso", 1125.00, 500, "m"),
    ("Chili Chicken Bowl", "Bowls", 3567.00, 300, "g"),
    ("B.L.A.T", "Sandwiches", 2967.00, 300, "g"),
    ("Tuscan Sun", "Sandwiches", 1917.00, 213, "t"),
    ("Mocha - 12oz", "Espresso", 348.40, 134, "o"),
    ("Carolina Style Pulled Pork", "BBQ Plates", 1403.02, 118, "c"),
    ("Turnt Up Tuna", "Sandwiches", 959.00, 106, "u"),
]
MAX_QTY_2023, MAX_PRICE_2023 = 27, 269.73

# --- options ----------------------------------------------------------------------------------
OPTION_ORDERS, OPTION_KEYS = 78_614, 102_712
OPTIONED_LINES, OPTIONED_ORDERS = 102_697, 78_600
OPTION_PRICES = {0.0: 127_980, 1.0: 37_988, 2.0: 19_619, 0.6: 2_670, 0.75: 1_565, 0.5: 1_414,
                 3.0: 1_368}
OPTION_PRICE_OTHERS = (0.05, 0.25, 1.25, 1.5, 1.99, 2.5, 4.0, 6.0, 8.0)   # together 413 rows
OPTIONS_PER_LINE = {"1": 0.498, "2": 0.314, "3": 0.112, "4": 0.040, "5": 0.019, "6-7": 0.009,
                    "8+": 0.008}
OPTIONS_PER_LINE_MEAN, OPTIONS_PER_LINE_MAX = 1.88, 152
OPTION_GROUPS, OPTION_NAMES = 133, 637
TOP_OPTION_GROUP = ("Milk Options", 25_841)
DUPLICATES = dict(extra_rows=2_299, groups=616, rows=2_915, max_copies=10)
ORPHANS = dict(rows=28, keys=15, orders=14)
OPTION_TOTAL = 85_245.14                 # sum of option_price, once per line
PAID_OPTION_ORDER_SHARE = 0.3271
AOV = 14.19                              # (sum item_price + sum option_price) / orders [jen]

# --- 2023 scope (America/New_York, DEVELOPMENT excluded) [Polat] -------------------------------
SCOPE_2023 = dict(lines=79_965, orders=52_015, customers=10_513, guest_lines=6_132, locations=20,
                  loyalty_lines=38_932)
