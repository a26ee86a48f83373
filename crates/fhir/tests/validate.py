"""Validates FHIR resources with the fhir.resources R4B models (an outside check of what the
server emits).

Usage: validate.py FILE, where FILE holds a JSON array of resources. Each is parsed with the
model class of its resourceType: unknown elements, wrong types and malformed primitives fail
there. The models' parsing does not enforce the codes of required bindings, so every coded
element whose model lists its permitted codes (`enum_values`, complete lists only) is checked
against that list too. Prints one line per resource; exits 1 when any resource fails.
"""

import json
import sys

from fhir.resources.R4B import get_fhir_model_class
from pydantic import BaseModel


# Lists in the models that are not the binding's codes: CapabilityStatement.format and
# patchFormat are bound to every MIME type (the model's list is words of the definition).
NOT_CODE_LISTS = {("CapabilityStatement", "format"), ("CapabilityStatement", "patchFormat")}


def check_codes(model: BaseModel, path: str, problems: list) -> None:
    for name, field in type(model).model_fields.items():
        value = getattr(model, name, None)
        if value is None or (type(model).__name__, name) in NOT_CODE_LISTS:
            continue
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        allowed = extra.get("enum_values")
        items = value if isinstance(value, list) else [value]
        if allowed and "+" not in allowed:
            for v in items:
                if isinstance(v, str) and v not in allowed:
                    problems.append(f"{path}.{name}: '{v}' is not one of {allowed}")
        for i, v in enumerate(items):
            if isinstance(v, BaseModel):
                suffix = f"[{i}]" if isinstance(value, list) else ""
                check_codes(v, f"{path}.{name}{suffix}", problems)


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        resources = json.load(f)
    if not isinstance(resources, list) or not resources:
        print("expected a non-empty JSON array of resources", file=sys.stderr)
        return 2
    failures = 0
    for i, r in enumerate(resources):
        rt = r.get("resourceType") if isinstance(r, dict) else None
        rid = r.get("id", "") if isinstance(r, dict) else ""
        try:
            model = get_fhir_model_class(rt).model_validate(r)
            problems: list = []
            check_codes(model, rt, problems)
            if problems:
                raise ValueError("; ".join(problems))
        except Exception as e:  # noqa: BLE001 - every failure is reported
            failures += 1
            print(f"[{i}] {rt}/{rid}: INVALID\n{e}\n{json.dumps(r)[:2000]}")
            continue
        print(f"[{i}] {rt}/{rid}: valid")
    print(f"{len(resources) - failures} of {len(resources)} resources valid")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
