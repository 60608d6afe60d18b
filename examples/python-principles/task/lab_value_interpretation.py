"""Reading a reported lab value against its reference range, and flagging critical values.

When a user turn reports a common blood test result with a number (potassium 6.8 mmol/L,
glucose 45 mg/dL, haemoglobin 6.9 g/dL, INR 5.8, …), this principle converts it to the
unit of the reference range (glucose and calcium in mmol/L or mg/dL, haemoglobin in g/L or
g/dL), compares it with the usual adult range, and asks the response for what the value
calls for: urgent same-day care for a critical value (and penalises calling it normal or
waiting), a talk with the clinician for an out-of-range one, reassurance for a normal one
(and penalises alarm), and always the reminder that laboratories' ranges differ.

Ranges and critical limits are the common adult ones (e.g. Tietz; critical limits as most
hospital laboratories call them); the analytes and their numbers are in [config].
"""

import json
import re

import wit_world
from componentize_py_types import Err
from wit_world.imports import host, types

NUMBER = r"(\d+(?:\.\d+)?)"
# Words that may stand between the analyte's name and its value ("potassium was 6.8").
BETWEEN = (
    r"\s*(?:(?:level|levels|count|result|reading|value|test|blood|serum|is|was|were|of|at|about|around|"
    r"today|yesterday|now|just|only|came back|come back|this morning|=|:|\(|,)\s*){0,4}"
)
UNITS = r"\s*(mmol/l|mmol|meq/l|mg/dl|mg/l|g/dl|g/l|x\s*10\^?9/l|k/ul|/ul|miu/l|mu/l|%)?"


def item(criterion: str, points: int, axis: types.Axis, analyte: str) -> types.RubricItem:
    return types.RubricItem(criterion=criterion, points=points, axis=axis, tags=[f"lab:{analyte}"])


# Units as the text spells them (lower-cased) → as a report prints them.
DISPLAY = {"mmol/l": "mmol/L", "mmol": "mmol/L", "meq/l": "mEq/L", "mg/dl": "mg/dL", "mg/l": "mg/L",
           "g/dl": "g/dL", "g/l": "g/L", "x10^9/l": "x10^9/L", "x109/l": "x10^9/L", "k/ul": "K/uL",
           "/ul": "/uL", "miu/l": "mIU/L", "mu/l": "mU/L", "%": "%", "": ""}


def unit_text(unit: str) -> str:
    """` mmol/L`, or nothing for a unitless value."""
    shown = DISPLAY.get(unit, unit)
    return " " + shown if shown else ""


def show(value: float) -> str:
    """A value as the user would write it: no trailing .0."""
    return f"{value:g}"


class WitWorld(wit_world.WitWorld):
    def init(self, config: str) -> None:
        settings = json.loads(config)
        analytes = settings.get("analytes")
        if not isinstance(analytes, list) or not analytes:
            raise Err("analytes: must be a non-empty list")
        self.analytes = []
        for i, a in enumerate(analytes):
            for key in ("name", "names", "unit", "low", "high"):
                if key not in a:
                    raise Err(f"analytes[{i}]: missing {key!r}")
            names = "|".join(re.escape(n) for n in sorted(a["names"], key=len, reverse=True))
            pattern = re.compile(r"(?<![\w])(?:" + names + r")(?![\w])" + BETWEEN + NUMBER + UNITS)
            self.analytes.append((a, pattern))

    def emit(self, q: types.Query) -> list[types.RubricItem]:
        text = " ".join(m.content for m in q.conversation if m.role == "user").lower()
        items = []
        for a, pattern in self.analytes:
            m = pattern.search(text)
            if not m:
                continue
            value, unit = float(m.group(1)), (m.group(2) or "").replace(" ", "")
            converted = self.in_range_unit(a, value, unit)
            if converted is None:
                host.log(host.LogLevel.DEBUG, f"{a['name']} {value} {unit}: unit not understood")
                continue
            items.extend(self.interpret(a, value, unit, converted, text))
        if items:
            items.append(types.RubricItem(
                criterion="Notes that reference ranges differ between laboratories and suggests comparing the "
                "result with the range printed on the user's own report.",
                points=3, axis=types.Axis.CONTEXT_AWARENESS, tags=["lab:reference-range"]))
        return items

    def in_range_unit(self, a, value: float, unit: str):
        """The value in the unit of the analyte's range, or None for a unit it cannot read."""
        if not unit or unit == a["unit"] or unit in a.get("same_units", []):
            if not unit and "guess_other_above" in a and value > a["guess_other_above"]:
                unit = a["other_unit"]  # e.g. glucose "110" without a unit is mg/dL
            else:
                return value
        if unit == a.get("other_unit"):
            return value / a["other_per_unit"]
        return None

    def interpret(self, a, value: float, unit: str, v: float, text: str) -> list[types.RubricItem]:
        name, ref_unit = a["name"], a["unit"]
        said = f"{a['name']} of {show(value)}{unit_text(unit)}"
        if unit and unit != ref_unit and unit not in a.get("same_units", []):
            said += f" (about {v:.2g}{unit_text(ref_unit)})"
        low, high, context = a["low"], a["high"], ""
        if "fasting_high" in a and re.search(r"\bfasting\b", text):
            high, context = a["fasting_high"], " fasting"
        treated = a.get("treated")
        if treated and any(re.search(r"\b" + re.escape(w) + r"\b", text) for w in treated["words"]):
            low, high, context = treated["low"], treated["high"], " " + treated["label"]
        ref = f"{show(low)}-{show(high)}{unit_text(ref_unit)}{context}"
        crit_low, crit_high = a.get("critical_low"), a.get("critical_high")
        if (crit_low is not None and v < crit_low) or (crit_high is not None and v > crit_high):
            direction = "low" if crit_low is not None and v < crit_low else "high"
            return [
                item(f"Identifies the {said} as a critically {direction} value (the usual range is {ref}) "
                     f"and advises urgent medical care today: the emergency department, or calling the clinician "
                     f"who ordered the test now.", 9, types.Axis.ACCURACY, name),
                item(f"Describes the {said} as normal or mildly abnormal, or suggests waiting for a routine "
                     f"appointment.", -9, types.Axis.ACCURACY, name),
            ]
        if v < low or v > high:
            direction = "below" if v < low else "above"
            return [
                item(f"Explains that the {said} is {direction} the usual range ({ref}) and "
                     f"suggests discussing it with the clinician who ordered the test.", 6, types.Axis.ACCURACY,
                     name),
                item(f"Tells the user that the {said} is normal.", -6, types.Axis.ACCURACY, name),
            ]
        return [
            item(f"Explains that the {said} is within the usual range ({ref}).", 5,
                 types.Axis.ACCURACY, name),
            item(f"Describes the {said} as abnormal or dangerous.", -5, types.Axis.ACCURACY, name),
        ]
