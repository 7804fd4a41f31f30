"""The printed settlement (结算单), A4 or A5, zh-CN or en: server-rendered HTML, no JavaScript.

Its words are the screens' own (web/js/strings/handover.js, read through api.messages), so the paper
and the tablet say the same thing in both languages. Amounts are fen, printed as yuan.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2

from api import handover, messages, money, readmodels, workshop
from api.commands import now

SIZES = ("a4", "a5")
LANGUAGES = ("zh-CN", "en")

CSS = """
@page { size: %(size)s; margin: 12mm; }
body { font: 11pt/1.4 "Noto Sans CJK SC", "PingFang SC", sans-serif; color: #000; margin: 0; }
.sheet { max-width: 190mm; margin: 0 auto; }
h1 { font-size: 16pt; margin: 0 0 2mm; }
header { border-bottom: 1px solid #000; padding-bottom: 3mm; margin-bottom: 3mm; }
header p { margin: 0; }
dl { display: grid; grid-template-columns: auto 1fr auto 1fr; gap: 1mm 4mm; margin: 0 0 3mm; }
dt { font-weight: bold; }
dd { margin: 0; }
table { width: 100%%; border-collapse: collapse; margin: 2mm 0 4mm; }
th, td { border-bottom: 1px solid #999; padding: 1mm 2mm; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; }
tfoot td { border: none; }
tr.total td { font-weight: bold; font-size: 13pt; border-top: 2px solid #000; }
.sign img { max-height: 25mm; max-width: 80mm; }
.muted { color: #444; }
"""
_CSS = {size: CSS % {"size": "A4" if size == "a4" else "A5"} for size in SIZES}


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# The page's styles are allowed by their hashes; nothing else runs or loads but the signature image.
CSP = (
    f"default-src 'none'; style-src {' '.join(_sha256(c) for c in _CSS.values())}; img-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)

_TEMPLATE = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parents[1] / "web" / "print"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
).get_template("settlement.html")


def _day(moment: datetime, zone: str, lang: str) -> str:
    local = moment.astimezone(ZoneInfo(zone))
    if lang == "zh-CN":
        return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"
    return f"{local:%Y-%m-%d %H:%M}"


async def render(ro_id: int, *, size: str, lang: str) -> str:
    """The settlement of one repair order as a printable page."""
    if size not in SIZES:
        raise workshop.Invalid("size: a4 or a5.", code="print.size", field="size", params={"size": size})
    if lang and lang not in LANGUAGES:
        raise workshop.Invalid("lang: zh-CN or en.", code="print.lang", field="lang")
    ro = await readmodels.repair_order(ro_id)
    if ro is None:
        raise workshop.NotFound(
            f"Repair order {ro_id} does not exist.", code="ro.not_found", params={"id": ro_id}
        )
    lang = lang or ("en" if ro["customer"]["language"] == "en" else "zh-CN")
    settlement = await handover.show(ro_id)
    shop = await handover.shop_terms()
    t = messages.dictionaries()[lang]
    moment = datetime.fromisoformat(settlement["handed_over_at"]) if settlement["handed_over_at"] else now()
    vehicle = ro["vehicle"]
    rate = settlement["tax_rate_bp"]
    method = settlement["payment_method"]
    return _TEMPLATE.render(
        lang=lang,
        size=size,
        css=_CSS[size],
        t=t,
        ro=ro,
        s=settlement,
        shop=shop,
        yuan=money.yuan_text,
        day=_day(moment, shop["timezone"], lang),
        vehicle=" ".join(
            str(x) for x in (vehicle.get("plate"), vehicle.get("make"), vehicle.get("model")) if x
        ),
        tax_line=t["handover.taxInside"].replace("{rate}", f"{rate / 100:g}"),
        payment=t[f"handover.method.{method}"] if method else "—",
    )
