"""Validation of ``assessment.update`` request bodies and ``assessment.customField.list``
replies against Ashby's published contract.

The rules follow Ashby's OpenAPI description of ``assessment.update``, of the data-point
format that its ``assessment_status``, ``assessment_result``, ``assessment_profile_url``,
``cancelled_reason`` and ``metadata`` items share, and of the custom field list a partner
returns. Where Ashby's documentation leaves a point open, the fake takes the strict
reading, so that a partner bug shows up here instead of in a customer's account.
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit

DATA_POINT_TYPES = frozenset(
    {"numeric_score", "numeric_duration_minutes", "url", "string", "boolean_success"}
)
DATA_POINT_KEYS = frozenset({"identifier", "label", "type", "value", "description"})
SINGLE_DATA_POINT_FIELDS = (
    "assessment_status",
    "assessment_profile_url",
    "assessment_result",
    "cancelled_reason",
)
UPDATE_KEYS = frozenset({"assessment_id", "timestamp", "metadata", *SINGLE_DATA_POINT_FIELDS})

# Epoch milliseconds passed 10**12 in September 2001, and epoch seconds stay below it until
# the year 33658. Epoch microseconds passed 10**14 in 1973, and milliseconds stay below it
# until the year 5138.
MIN_TIMESTAMP_MS = 10**12
MAX_TIMESTAMP_MS = 10**14

# The ``type`` values of a custom field, as Ashby's OpenAPI description lists them.
CUSTOM_FIELD_TYPES = frozenset(
    {
        "String", "Date", "DateRange", "Number", "ValueSelect", "MultiValueSelect", "Boolean", "LongText",
        "Email", "Phone", "Score", "SocialLink", "Url", "Currency", "Location",
    }
)
SELECT_FIELD_TYPES = frozenset({"ValueSelect", "MultiValueSelect"})
CUSTOM_FIELD_KEYS = frozenset({"id", "name", "type", "possible_values", "isRequired"})

_UUID_PATTERN = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE
)


class ContractError(ValueError):
    """Error raised when a request body breaks the contract.

    ``field`` is the JSON path of the invalid value, and ``problem`` states what is expected.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


def validate_update(body: Any) -> None:
    """Raise ContractError unless ``body`` is a valid ``assessment.update`` request body.

    Only the first problem found is raised. Its message starts with the JSON path of the
    field, for example ``metadata[1].identifier``, and then states what is expected.
    """
    if not isinstance(body, dict):
        raise ContractError("body", f"expected a JSON object, got {_describe(body)}")

    unknown = sorted(set(body) - UPDATE_KEYS)
    if unknown:
        allowed = ", ".join(sorted(UPDATE_KEYS))
        raise ContractError(unknown[0], f"unknown field. The allowed fields are {allowed}")

    _validate_assessment_id(body)
    _validate_timestamp(body)

    for field in SINGLE_DATA_POINT_FIELDS:
        if field in body:
            validate_data_point(body[field], field)

    if "assessment_status" not in body and "cancelled_reason" not in body:
        raise ContractError(
            "assessment_status", "missing. It is required unless cancelled_reason is given"
        )

    if "assessment_result" in body and "assessment_profile_url" not in body:
        raise ContractError(
            "assessment_profile_url", "missing. It is required when assessment_result is given"
        )

    profile_url = body.get("assessment_profile_url")
    if profile_url is not None and profile_url["type"] != "url":
        raise ContractError(
            "assessment_profile_url.type", f"expected 'url', got {profile_url['type']!r}"
        )

    if "metadata" in body:
        _validate_metadata(body["metadata"])


def validate_custom_field_list(body: Any) -> None:
    """Raise ContractError unless ``body`` is a valid ``assessment.customField.list`` reply.

    Unlike the other partner replies, the list sits in ``fields`` at the top level, not
    under ``results``. Only the first problem found is raised.
    """
    if not isinstance(body, dict):
        raise ContractError("body", f"expected a JSON object, got {_describe(body)}")
    if body.get("success") is not True:
        raise ContractError("success", f"expected true, got {_describe(body.get('success'))}")

    fields = body.get("fields")
    if fields is None and isinstance(body.get("results"), list):
        raise ContractError("fields", "missing. The list belongs in fields at the top level, not under results")
    if not isinstance(fields, list):
        raise ContractError("fields", f"expected a list of custom fields, got {_describe(fields)}")

    seen: set[str] = set()
    for index, field in enumerate(fields):
        path = f"fields[{index}]"
        _validate_custom_field(field, path)
        if field["id"] in seen:
            raise ContractError(f"{path}.id", f"duplicate id {field['id']!r}. Each custom field id must be unique")
        seen.add(field["id"])


def _validate_custom_field(field: Any, path: str) -> None:
    if not isinstance(field, dict):
        raise ContractError(path, f"expected a custom field object, got {_describe(field)}")

    unknown = sorted(set(field) - CUSTOM_FIELD_KEYS)
    if unknown:
        allowed = ", ".join(sorted(CUSTOM_FIELD_KEYS))
        raise ContractError(f"{path}.{unknown[0]}", f"unknown field. A custom field has only {allowed}")

    if not isinstance(field.get("id"), str) or not field["id"]:
        raise ContractError(f"{path}.id", f"expected a non-empty string, got {_describe(field.get('id'))}")
    if not isinstance(field.get("name"), str):
        raise ContractError(f"{path}.name", f"expected a string, got {_describe(field.get('name'))}")

    field_type = field.get("type")
    if field_type not in CUSTOM_FIELD_TYPES:
        allowed = ", ".join(sorted(CUSTOM_FIELD_TYPES))
        raise ContractError(f"{path}.type", f"expected one of {allowed}, got {_describe(field_type)}")

    if "isRequired" in field and not isinstance(field["isRequired"], bool):
        raise ContractError(f"{path}.isRequired", f"expected true or false, got {_describe(field['isRequired'])}")

    if field_type in SELECT_FIELD_TYPES:
        _validate_possible_values(field.get("possible_values"), f"{path}.possible_values", field_type)
    elif "possible_values" in field:
        raise ContractError(
            f"{path}.possible_values", f"only a ValueSelect or MultiValueSelect has them, not a {field_type}"
        )


def _validate_possible_values(values: Any, path: str, field_type: str) -> None:
    if not isinstance(values, list) or not values:
        raise ContractError(
            path, f"expected a non-empty list of {{key, value}} objects for a {field_type}, got {_describe(values)}"
        )

    keys: set[str] = set()
    for index, item in enumerate(values):
        item_path = f"{path}[{index}]"
        if not isinstance(item, dict):
            raise ContractError(item_path, f"expected an object with key and value, got {_describe(item)}")
        if set(item) != {"key", "value"}:
            got = ", ".join(sorted(map(str, item))) or "no keys"
            raise ContractError(item_path, f"expected exactly the keys key and value, got {got}")
        for name in ("key", "value"):
            if not isinstance(item[name], str) or not item[name]:
                raise ContractError(f"{item_path}.{name}", f"expected a non-empty string, got {_describe(item[name])}")
        if item["key"] in keys:
            raise ContractError(f"{item_path}.key", f"duplicate key {item['key']!r}")
        keys.add(item["key"])


def validate_data_point(point: Any, path: str) -> None:
    """Raise ContractError unless ``point`` is a data point whose value matches its type."""
    if not isinstance(point, dict):
        raise ContractError(
            path,
            f"expected a data point object, got {_describe(point)}. "
            "To send no data point, leave the key out instead of sending null",
        )

    unknown = sorted(set(point) - DATA_POINT_KEYS)
    if unknown:
        allowed = ", ".join(sorted(DATA_POINT_KEYS))
        raise ContractError(f"{path}.{unknown[0]}", f"unknown field. A data point has only {allowed}")

    identifier = point.get("identifier")
    if not isinstance(identifier, str) or not identifier:
        raise ContractError(f"{path}.identifier", f"expected a non-empty string, got {_describe(identifier)}")

    if not isinstance(point.get("label"), str):
        raise ContractError(f"{path}.label", f"expected a string, got {_describe(point.get('label'))}")

    point_type = point.get("type")
    if point_type not in DATA_POINT_TYPES:
        allowed = ", ".join(sorted(DATA_POINT_TYPES))
        raise ContractError(f"{path}.type", f"expected one of {allowed}, got {_describe(point_type)}")

    if "value" not in point:
        raise ContractError(f"{path}.value", "missing")
    _validate_value(point_type, point["value"], f"{path}.value")

    if "description" in point and not isinstance(point["description"], str):
        raise ContractError(
            f"{path}.description", f"expected a string, got {_describe(point['description'])}"
        )


def _validate_assessment_id(body: dict[str, Any]) -> None:
    if "assessment_id" not in body:
        raise ContractError("assessment_id", "missing. Expected the uuid that assessment.start returned")

    value = body["assessment_id"]
    if not isinstance(value, str) or not _UUID_PATTERN.fullmatch(value):
        raise ContractError(
            "assessment_id",
            f"expected a uuid string like '9d4e1c2a-7b3f-4e8d-a1c5-6f2b0e9d8c71', got {value!r}",
        )


def _validate_timestamp(body: dict[str, Any]) -> None:
    if "timestamp" not in body:
        raise ContractError("timestamp", "missing. Expected integer milliseconds since the Unix epoch")

    value = body["timestamp"]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ContractError(
            "timestamp", f"expected integer milliseconds since the Unix epoch, got {_describe(value)}"
        )
    if value < MIN_TIMESTAMP_MS:
        raise ContractError(
            "timestamp", f"expected milliseconds since the Unix epoch, got {value}, which looks like seconds"
        )
    if value >= MAX_TIMESTAMP_MS:
        raise ContractError(
            "timestamp",
            f"expected milliseconds since the Unix epoch, got {value}, which looks like microseconds",
        )


def _validate_metadata(metadata: Any) -> None:
    if not isinstance(metadata, list):
        raise ContractError("metadata", f"expected a list of data points, got {_describe(metadata)}")

    seen: set[str] = set()
    for index, point in enumerate(metadata):
        path = f"metadata[{index}]"
        validate_data_point(point, path)

        identifier = point["identifier"]
        if identifier in seen:
            raise ContractError(
                f"{path}.identifier",
                f"duplicate identifier {identifier!r}. Each metadata identifier must be unique",
            )
        seen.add(identifier)


def _validate_value(point_type: str, value: Any, path: str) -> None:
    if point_type in ("numeric_score", "numeric_duration_minutes"):
        valid = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
        expected = "a finite number"
    elif point_type == "boolean_success":
        valid = isinstance(value, bool)
        expected = "true or false"
    elif point_type == "url":
        valid = is_absolute_http_url(value)
        expected = "an absolute http(s) URL"
    else:
        valid = isinstance(value, str)
        expected = "a string"

    if not valid:
        raise ContractError(path, f"expected {expected} for type {point_type}, got {_describe(value)}")


def is_absolute_http_url(value: Any) -> bool:
    """Return whether ``value`` is a string that contains an absolute http or https URL with a host."""
    if not isinstance(value, str):
        return False

    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    return f"{type(value).__name__} {value!r}"
