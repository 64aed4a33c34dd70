"""JSON schemas the structured-output tests of both engines ask for."""

# Every string, array and number bounded, so a finished answer fits in 400 tokens whatever is
# sampled (whitespace is off): a "length" here would be a bug, not bad luck.
TASK = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": 40},
        "priority": {"type": "string", "enum": ["low", "medium", "high"]},
        "done": {"type": "boolean"},
    },
    "required": ["title", "priority", "done"],
}
CITIES = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "maxLength": 24},
            "country": {"type": "string", "enum": ["France", "Germany", "Italy", "Spain"]},
            "population": {"type": "integer", "minimum": 0, "maximum": 99999999},
        },
        "required": ["city", "country", "population"],
    },
    "minItems": 1,
    "maxItems": 3,
}
BOOK = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "maxLength": 40},
        "author": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 30},
                "born": {"type": "integer", "minimum": 1000, "maximum": 2030},
            },
            "required": ["name", "born"],
        },
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 12}, "maxItems": 3},
    },
    "required": ["title", "author", "tags"],
}
LOOKBEHIND = {"type": "string", "pattern": "(?<=a)b"}  # valid JSON Schema, which xgrammar cannot compile
